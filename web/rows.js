/*
 * The message list of the page: its rows (a time, who, a tag, the text;
 * all received text through `visible` and textContent, never HTML), which
 * conversation a message belongs in, and keeping the list at its end while
 * the reader is there. Kept apart from app.js, which speaks the protocol;
 * web/chats.js keeps the rows of each conversation.
 */
'use strict';

// The page's third global (app.js leaves none): a maker of message lists.
const evchatRows = (() => {
  const { EVERYONE, roomKey, peopleKey } = evchatChats;
  const { sameName } = evchatInput;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // `me()`: the name logged in as; `drawUsers`: draws the online list, in
  // the same batch as the rows.
  function make({ me, visible, drawUsers }) {
    const list = document.getElementById('messages');
    let chats = null; // given by use(), once made
    let pinned = true; // is the message list scrolled to its end (so kept there)?

    // Local time: hours and minutes shown, the whole date and time on hover.
    function stampOf(time) {
      const d = time ? new Date(time) : new Date();
      if (Number.isNaN(d.getTime())) return el('time', 'time', visible(String(time), false));
      const stamp = el('time', 'time', d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
      stamp.dateTime = d.toISOString();
      stamp.title = d.toLocaleString();
      return stamp;
    }

    // The list stays at its end while it was there before a row came or it
    // changed size (the box grew, the bar or the window changed). `pinned` is
    // measured on scrolling and before the first row of a batch, but not
    // while a resize awaits its observer (a list that just shrank would look
    // scrolled up) nor while rows await their scroll (it would look so too).
    let seenHeight = 0; // the list's height when its observer last ran
    function toEnd() {
      if (pinned) list.scrollTop = list.scrollHeight;
    }

    function measure() {
      if (rowsWaiting || list.clientHeight !== seenHeight) return;
      pinned = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    }

    // Rows are added as frames come, but laid out, scrolled to and the online
    // list drawn once per batch, at the next animation frame (or soon after,
    // in a hidden tab that draws none): doing it per frame froze the tab
    // when a thousand people logged in at once.
    let rowsWaiting = false;
    let usersWaiting = false;
    let fallback = null;
    function later(rows) {
      if (rows) measure();
      rowsWaiting ||= rows;
      usersWaiting ||= !rows;
      if (fallback) return;
      requestAnimationFrame(draw);
      fallback = setTimeout(draw, 100);
    }

    function draw() {
      if (!fallback) return;
      clearTimeout(fallback);
      fallback = null;
      if (usersWaiting) drawUsers();
      if (rowsWaiting) toEnd();
      rowsWaiting = usersWaiting = false;
    }

    function watchList() {
      list.addEventListener('scroll', measure);
      new ResizeObserver(() => {
        toEnd();
        seenHeight = list.clientHeight;
      }).observe(list);
    }

    // A row in conversation `key` (the current one if not given); `counts`:
    // it is a message someone else sent, unread until its conversation is shown.
    function addRow(kind, time, parts, key, counts) {
      const row = el('li', 'row ' + kind);
      row.append(stampOf(time), ...parts);
      const here = chats.current().key;
      if ((key || here) === here) later(true); // measured before the row is in
      chats.add(key || here, row, counts);
      return row;
    }

    // Who a private message is for, as the reader sees it: 'private' when to
    // me alone, 'private to you and carol', 'private to bob' (my own).
    function privateTag(from, to) {
      const mine = (n) => sameName(n, me());
      if (!mine(from) && to.length === 1 && mine(to[0])) return 'private';
      const names = to.some(mine) ? ['you', ...to.filter((n) => !mine(n))] : [...to];
      const last = names.length > 1 ? ' and ' + names.pop() : '';
      return 'private to ' + names.join(', ') + last;
    }

    // A room message's tag: none in its own room when it went there alone,
    // else where it went ('to #rust and bob').
    function roomTag(to, key) {
      if (to.length === 1 && roomKey(to[0]) === key) return null;
      const names = to.map((n) => (sameName(n, me()) ? 'you' : n));
      const last = names.length > 1 ? ' and ' + names.pop() : '';
      return 'to ' + names.join(', ') + last;
    }

    // The conversation a message belongs in: Everyone for a broadcast, its
    // room (one we have, if it names several), else the private one of the
    // people in it other than me.
    function chatOf(from, to) {
      if (!to) return chats.get(EVERYONE);
      const rooms = to.filter((t) => t.startsWith('#'));
      if (rooms.length) return openRoom(rooms.find((r) => chats.get(roomKey(r))) || rooms[0]);
      // Each person once, in the spelling first met, whatever case the
      // sender typed: a reply from `bob` is in the chat opened for `BOB`.
      const byKey = new Map();
      for (const n of [from, ...to]) {
        if (!sameName(n, me()) && !byKey.has(n.toLowerCase())) byKey.set(n.toLowerCase(), n);
      }
      const others = [...byKey.values()].sort();
      const people = others.length ? others : [me()];
      return chats.open(peopleKey(people), 'private', people.join(', '), people);
    }

    const openRoom = (room) => chats.open(roomKey(room), 'room', room, [room]);

    // Shows a message in conversation `key` (its own unless given: the echo
    // of one's own message where it was typed).
    function showMessage(from, to, time, text, key) {
      const room = to && to.some((t) => t.startsWith('#'));
      const where = key || chatOf(from, to).key;
      const tag = !to ? null : room ? roomTag(to, where) : privateTag(from, to);
      const parts = [el('span', 'from', visible(from, false))];
      if (tag) parts.push(el('span', 'tag', visible(tag, false)));
      parts.push(el('span', 'text', visible(text, true)));
      const mine = sameName(from, me());
      const kind = (!to ? 'say' : room ? 'room' : 'private') + (mine ? ' mine' : '');
      return addRow(kind, time, parts, where, !mine);
    }

    const note = (text, time, key) => addRow('note', time, [el('span', 'text', visible(text, true))], key);
    const problem = (text) => addRow('error', null, [el('span', 'text', visible(text, true))]);

    // A burst of logins and logouts (more than three, each within a second of
    // the last, no other row between) shows the rest as one counting row.
    const burst = { row: null, at: 0, n: 0, joined: 0, left: 0 };
    function presence(kind, name, time, text) {
      const now = Date.now();
      const going = burst.row && burst.row === chats.last(EVERYONE) && now - burst.at < 1000;
      if (!going) Object.assign(burst, { n: 0, joined: 0, left: 0 });
      burst.at = now;
      burst.n += 1;
      if (burst.n <= 3) {
        burst.row = note(name + ' ' + kind + (text ? ': ' + text : ''), time, EVERYONE);
        return;
      }
      if (burst.n === 4) burst.row = note('', time, EVERYONE);
      burst[kind] += 1;
      const counts = [burst.joined && burst.joined + ' more joined'];
      if (burst.left) counts.push(burst.left + ' more left');
      burst.row.querySelector('.text').textContent = counts.filter(Boolean).join(', ');
    }

    // Marks a message that came at login: held for you, or said in a room.
    function marked(row, why) {
      row.classList.add('held');
      row.querySelector('.text').before(el('span', 'tag held-tag', why));
    }

    // What one does is always shown: the list goes to its end.
    function pin() {
      pinned = true;
      toEnd();
    }

    return {
      use: (c) => { chats = c; },
      pin,
      watch: watchList,
      later,
      addRow,
      showMessage,
      note,
      problem,
      presence,
      marked,
      chatOf,
      openRoom,
    };
  }

  return Object.freeze({ make });
})();
