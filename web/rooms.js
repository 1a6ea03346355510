/*
 * Rooms on the page: the frames about them (JOIN, PART, ROOMS, LIST, USERS
 * #room), the commands that name them (/join [key], /part, /go, /rooms,
 * /list, /who #room), and which room messages came at login or on entering.
 * Kept apart from app.js, which speaks the rest of the protocol.
 *
 * - A `JOIN <me> <room>` answering a join from here makes the room the one
 *   shown; what follows until the PONG of the PING sent after that JOIN is
 *   the room's history.
 * - Any other `JOIN <me> <room>` comes at login: what the room said while
 *   we were away follows, until the server's next PING (each window of a
 *   long catch-up ends with one), and is marked so.
 */
'use strict';

// The page's fourth global (app.js leaves none): a maker of room handlers.
const evchatRooms = (() => {
  const { EVERYONE, roomKey } = evchatChats;
  const { escapeText, unescapeText, fields, sameName } = evchatInput;

  // `me()`: the name logged in as; `rows`: web/rows.js's list.
  function make({ me, send, chats, rows }) {
    const catching = new Set(); // rooms whose login catch-up is coming, until a PING
    const joins = []; // rooms joined from here, oldest first, until their PONG join
    const entering = new Set(); // of those, the rooms whose history is coming
    let askedRooms = false; // show the answer to ROOMS as a note

    // Handles a room frame; false for the others.
    function frame(verb, rest) {
      switch (verb) {
        case 'JOIN': {
          const [name, room, time] = fields(rest, 3);
          if (sameName(name, me())) joined(room, time);
          else if (chats.get(roomKey(room))) rows.note(name + ' joined ' + room, time, roomKey(room));
          return true;
        }
        case 'PART': {
          const [name, room, time, text] = fields(rest, 4);
          const key = roomKey(room);
          if (!chats.get(key)) return true;
          if (!sameName(name, me())) {
            rows.note(name + ' left ' + room + (text ? ': ' + unescapeText(text) : ''), time, key);
          } else {
            chats.drop(key);
            rows.note('you left ' + room, time);
          }
          return true;
        }
        case 'ROOMS': {
          // The server's word on which rooms we are in.
          const rooms = rest.split(' ').filter(Boolean);
          const keys = new Set(rooms.map(roomKey));
          rooms.forEach(rows.openRoom);
          chats.rooms().filter((c) => !keys.has(c.key)).forEach((c) => chats.drop(c.key));
          if (askedRooms) rows.note(rooms.length ? 'your rooms: ' + rooms.join(', ') : 'you are in no room');
          askedRooms = false;
          return true;
        }
        case 'LIST': {
          // Every room: name, members, name, members...
          const words = rest.split(' ').filter(Boolean);
          const all = [];
          for (let i = 0; i + 1 < words.length; i += 2) all.push(words[i] + ' (' + words[i + 1] + ')');
          rows.note(all.length ? 'rooms (' + all.length + '): ' + all.join(', ') : 'there is no room yet');
          return true;
        }
        case 'USERS': {
          if (!rest.startsWith('#')) return false;
          const [room, ...names] = rest.split(' ');
          rows.note(room + ' online (' + names.length + '): ' + names.join(', '));
          return true;
        }
        default:
          return false;
      }
    }

    // `JOIN <me> <room>`: see the top of this file.
    function joined(room, time) {
      const key = roomKey(room);
      const mine = joins.includes(key) && !entering.has(key);
      const known = !!chats.get(key);
      rows.openRoom(room);
      if (!mine) return catching.add(key);
      entering.add(key);
      if (!known) rows.note('you joined ' + room, time, key);
      chats.show(key);
    }

    // A message has been shown in `chat`: marks it if it came at login.
    function arrived(chat, row) {
      if (catching.has(chat.key)) rows.marked(row, 'said while you were away');
      if (entering.has(chat.key)) row.classList.add('earlier');
    }

    // Our PONG for a join's PING: that room's history has come.
    function pong(token) {
      if (token !== 'join') return false;
      entering.delete(joins.shift());
      return true;
    }

    // Runs a room command (an action of web/input.js); returns why not,
    // null when done, undefined when it is not about rooms.
    function command({ command: what, room, text, key }) {
      switch (what) {
        case 'join':
          joins.push(roomKey(room));
          send('JOIN ' + room + (key ? ' ' + key : '')); // a key: the room is +k
          send('PING join'); // its PONG comes after the room's history
          return null;
        case 'part': {
          const here = chats.current();
          const which = room || (here.kind === 'room' ? here.to[0] : null);
          if (!which) return 'leave which room? /part #room (or /part in the room)';
          send('PART ' + which + (text ? ' ' + escapeText(text) : ''));
          return null;
        }
        case 'go':
          if (room && !chats.get(roomKey(room))) return 'you are not in ' + room + ': /join ' + room;
          chats.show(room ? roomKey(room) : EVERYONE);
          return null;
        case 'rooms':
          askedRooms = true;
          send('ROOMS');
          return null;
        case 'list':
          send('LIST');
          return null;
        case 'who':
          if (!room) return undefined;
          send('WHO ' + room);
          return null;
        default:
          return undefined;
      }
    }

    // The connection is gone: nothing is coming any more.
    function reset() {
      catching.clear();
      joins.length = 0;
      entering.clear();
      askedRooms = false;
    }

    return { frame, arrived, ping: () => catching.clear(), pong, command, reset };
  }

  return Object.freeze({ make });
})();
