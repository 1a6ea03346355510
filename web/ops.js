/*
 * Room operators on the page: the frames about a room's topic, modes,
 * kicks and invitations (TOPIC, MODE, MODES, BANS, KICK, INVITE), the
 * commands that make them (/topic, /mode, /kick, /invite), the topic above
 * a room's messages, and the @ before its operators and + before its
 * voiced members in the online list.
 * Kept apart from web/rooms.js (joining and leaving) and app.js.
 *
 * - The server sends the same TOPIC right after our JOIN (on joining, and
 *   for each room at login), as the answer to `TOPIC <room>`, and when
 *   someone changes it. After our JOIN it is shown once (not again at
 *   each login while it stays the same); told again as we last saw it, it
 *   is an answer; otherwise a change.
 * - A room's operators and voiced members come from `USERS <room>`
 *   (`@name`, `+name`), asked the first time a room is shown, and from
 *   MODE +o/-o and +v/-v; a KICK or PART takes the name out of them (the
 *   server does not tell that part).
 *
 * Everything received reaches the page through `visible` and textContent.
 */
'use strict';

// The page's fifth global (app.js leaves none): a maker of operator handlers.
const evchatOps = (() => {
  const { roomKey } = evchatChats;
  const { escapeText, unescapeText, fields, sameName, visible } = evchatInput;
  const lower = (n) => n.toLowerCase();

  // The `o` and `v` changes of a MODE: [mode, on, name]. Which modes take an
  // argument is as the server writes them: o, b, k (`-k *` too), +l.
  function opChanges(modes, args) {
    const out = [];
    let on = true;
    let i = 0;
    for (const c of modes) {
      if (c === '+' || c === '-') {
        on = c === '+';
        continue;
      }
      const takes = 'obkv'.includes(c) || (c === 'l' && on);
      const arg = takes ? args[i++] : undefined;
      if ((c === 'o' || c === 'v') && arg) out.push([c, on, arg]);
    }
    return out;
  }

  // `me()`: the name logged in as; `rows`: web/rows.js's list; `topicEl`:
  // where the shown room's topic goes; `redraw()`: draws the online list.
  function make({ me, send, chats, rows, topicEl, redraw }) {
    const topics = new Map(); // room key -> {text, by, time}
    const operators = new Map(); // room key -> Set of lower-case names
    const voiced = new Map(); // the same, of voiced members
    const quiet = new Set(); // rooms whose USERS answer was asked by the page
    let afterJoin = null; // {key, was}: our JOIN of `key` was the frame before

    // Where a line about `room` goes: its conversation, if we are in it.
    const whereFor = (room) => (chats.get(roomKey(room)) ? roomKey(room) : undefined);
    const say = (text, time, room) => rows.note(text, time, whereFor(room));

    function drawTopic() {
      const chat = chats.current();
      const topic = chat.kind === 'room' ? topics.get(chat.key) : null;
      topicEl.hidden = !topic;
      topicEl.textContent = topic ? visible(topic.text, false) : '';
      topicEl.title = topic ? visible('set by ' + topic.by + ' on ' + when(topic.time), false) : '';
    }

    function when(time) {
      const d = new Date(time);
      return Number.isNaN(d.getTime()) ? time : d.toLocaleString();
    }

    // Handles an operator frame; false for the others (which it watches:
    // our JOIN, a PART).
    function frame(verb, rest) {
      const after = afterJoin;
      afterJoin = null;
      switch (verb) {
        case 'JOIN': {
          const [name, room] = fields(rest, 3);
          if (!sameName(name, me())) return false;
          // Its TOPIC, if it has one, comes next: until then it has none.
          const key = roomKey(room);
          afterJoin = { key, was: topics.get(key) };
          topics.delete(key);
          drawTopic();
          return false;
        }
        case 'PART': {
          const [name, room] = fields(rest, 3);
          const key = roomKey(room);
          if (sameName(name, me())) forget(key);
          else unMark(key, name);
          return false;
        }
        case 'LEFT': {
          // A rename (`LEFT <old> <time> renamed to <new>`): an operator
          // stays one under the new name.
          const [name, , text] = fields(rest, 3);
          const renamed = /^renamed to ([A-Za-z0-9_-]{1,32})$/.exec(text || '');
          if (!renamed) return false;
          let moved = false;
          for (const marked of [...operators.values(), ...voiced.values()]) {
            if (marked.delete(lower(name))) {
              marked.add(lower(renamed[1]));
              moved = true;
            }
          }
          if (moved) redraw();
          return false;
        }
        case 'USERS': {
          if (!rest.startsWith('#')) return false;
          const [room, ...names] = rest.split(' ');
          const key = roomKey(room);
          const marked = (mark) => new Set(names.filter((n) => n.startsWith(mark)).map((n) => lower(n.slice(1))));
          operators.set(key, marked('@'));
          voiced.set(key, marked('+'));
          redraw();
          // Asked by the page for the @ marks, not by the user: not shown.
          return quiet.delete(key);
        }
        case 'TOPIC':
          topic(rest, after);
          return true;
        case 'MODE': {
          const [room, by, time, modes, args] = fields(rest, 5);
          const key = roomKey(room);
          // Unknown until asked: then the answer has them all.
          for (const [mode, on, name] of opChanges(modes || '', (args || '').split(' '))) {
            const marked = (mode === 'o' ? operators : voiced).get(key);
            if (marked) marked[on ? 'add' : 'delete'](lower(name));
          }
          redraw();
          const who = by === '*' ? 'the server' : by;
          say(who + ' sets mode ' + modes + (args ? ' ' + args : '') + ' on ' + room, time, room);
          return true;
        }
        case 'MODES': {
          const [room, flags] = fields(rest, 2);
          say(room + ' is ' + flags, null, room);
          return true;
        }
        case 'BANS': {
          const [room, ...masks] = rest.split(' ');
          say(masks.length ? 'banned from ' + room + ': ' + masks.join(', ') : 'nobody is banned from ' + room,
            null, room);
          return true;
        }
        case 'KICK': {
          const [room, name, by, time, text] = fields(rest, 5);
          const key = roomKey(room);
          const why = text ? ' (' + unescapeText(text) + ')' : '';
          if (sameName(name, me())) {
            // Out of it, as a PART of ours: its conversation goes.
            forget(key);
            if (chats.get(key)) chats.drop(key);
            rows.note(by + ' kicked you from ' + room + why, time);
          } else {
            unMark(key, name);
            say(by + ' kicked ' + name + ' from ' + room + why, time, room);
          }
          return true;
        }
        case 'INVITE': {
          const [by, name, room, time] = fields(rest, 4);
          if (sameName(by, me())) say('you invited ' + name + ' to ' + room, time, room);
          else rows.note(by + ' invites you to ' + room + ' \u2014 /join ' + room, time);
          return true;
        }
        default:
          return false;
      }
    }

    // `TOPIC <room> [<by> <time> [<text>]]`: see the top of this file.
    function topic(rest, after) {
      const [room, by, time, text] = fields(rest, 4);
      const key = roomKey(room);
      if (!by) return say(room + ' has no topic', null, room);
      const said = text === undefined ? null : unescapeText(text);
      const atJoin = !!after && after.key === key;
      const was = atJoin ? after.was : topics.get(key);
      const same = !!was && was.by === by && was.time === time && was.text === said;
      if (said === null) topics.delete(key);
      else topics.set(key, { text: said, by, time });
      drawTopic();
      if (atJoin && same) return null; // a login again: nothing new
      if (atJoin || same) {
        return say('topic of ' + room + ': ' + said + ' (set by ' + by + ' on ' + when(time) + ')', null, room);
      }
      return say(by + (said === null ? ' cleared the topic of ' + room : ' set the topic of ' + room + ': ' + said),
        time, room);
    }

    // `name` left `key` or was put out: no longer its operator or voiced.
    function unMark(key, name) {
      const op = operators.get(key)?.delete(lower(name));
      const voice = voiced.get(key)?.delete(lower(name));
      if (op || voice) redraw();
    }

    // We are out of a room: what we knew of it goes.
    function forget(key) {
      topics.delete(key);
      operators.delete(key);
      voiced.delete(key);
      quiet.delete(key);
      drawTopic();
      redraw();
    }

    // The room of a command: the one named, else the one shown.
    function roomOf(room, usage) {
      const here = chats.current();
      const which = room || (here.kind === 'room' ? here.to[0] : null);
      if (!which) throw new Error('which room? ' + usage + ' (or type it in the room)');
      return which;
    }

    // Runs an operator command (an action of web/input.js); returns why
    // not, null when done, undefined when it is not one.
    function command(action) {
      try {
        switch (action.command) {
          case 'topic': {
            const room = roomOf(action.room, '/topic #room [text]');
            if (action.text === null) send('TOPIC ' + room);
            else send('TOPIC ' + room + ' ' + escapeText(action.text));
            return null;
          }
          case 'mode': {
            const room = roomOf(action.room, '/mode #room +o bob');
            send('MODE ' + room + (action.changes ? ' ' + action.changes : ''));
            return null;
          }
          case 'kick': {
            const room = roomOf(action.room, '/kick #room bob [why]');
            send('KICK ' + room + ' ' + action.name + (action.text ? ' ' + escapeText(action.text) : ''));
            return null;
          }
          case 'invite':
            send('INVITE ' + action.name + ' ' + roomOf(action.room, '/invite bob #room'));
            return null;
          default:
            return undefined;
        }
      } catch (e) {
        return e.message;
      }
    }

    // The conversation `chat` is now shown: its topic above; a room's
    // operators asked the first time.
    function shown(chat) {
      drawTopic();
      if (chat.kind !== 'room' || operators.has(chat.key) || quiet.has(chat.key)) return;
      quiet.add(chat.key);
      send('WHO ' + chat.to[0]);
    }

    // `name`'s mark in the room shown: `@` an operator, `+` voiced.
    function mark(name) {
      const chat = chats.current();
      if (chat.kind !== 'room') return '';
      if (operators.get(chat.key)?.has(lower(name))) return '@';
      return voiced.get(chat.key)?.has(lower(name)) ? '+' : '';
    }

    // The connection is gone: operators are asked again when next shown
    // (topics come again after each JOIN of the login).
    function reset() {
      operators.clear();
      voiced.clear();
      quiet.clear();
      afterJoin = null;
    }

    return { frame, command, shown, mark, reset };
  }

  return Object.freeze({ make, opChanges });
})();
