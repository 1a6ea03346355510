/*
 * The conversations beside the message list: Everyone (broadcasts, who
 * came and went), each room one is in, and private conversations (by the
 * other people in them). Each keeps its own rows — the message list shows
 * the current one's — and counts the messages that came while another was
 * shown. Kept apart from app.js: one concern, and no protocol in it.
 *
 * Bounded however much comes: at most maxRows rows in one conversation and
 * maxAll in all together (past that the oldest rows of the fullest go),
 * and at most maxPrivate private conversations (past that the one quiet
 * longest, unless shown, goes). Rooms are bounded by the server's
 * --max-rooms-per-user.
 *
 * Names come from the server and reach the list through textContent only,
 * after `visible`, as everything received does.
 */
'use strict';

// The page's second global (app.js leaves none): a maker of conversation lists.
const evchatChats = (() => {
  const EVERYONE = '*';
  // Rooms are compared without ASCII case (their names are ASCII).
  const roomKey = (room) => room.toLowerCase();
  // A private conversation is its other people, in byte order, compared
  // without ASCII case as the server compares names.
  const peopleKey = (names) => '@' + [...new Set(names.map((n) => n.toLowerCase()))].sort().join(',');

  function make({ list, messages, visible, maxRows, maxAll, maxPrivate, onShow }) {
    const chats = new Map(); // key -> chat, in the order they came
    let current = EVERYONE;
    let total = 0; // rows in all conversations
    let used = 0; // a clock of activity, for which private one is quietest

    function el(tag, className, text) {
      const node = document.createElement(tag);
      if (className) node.className = className;
      if (text !== undefined) node.textContent = text;
      return node;
    }

    // Opens (or finds) a conversation. `to` is what a plain line there is
    // sent to (null: everyone).
    function open(key, kind, label, to) {
      let chat = chats.get(key);
      if (chat) return chat;
      if (kind === 'private') makeRoomForPrivate();
      const button = el('button', 'chat-item chat-' + kind);
      button.type = 'button';
      button.dataset.key = key;
      button.append(el('span', 'chat-name', visible(label, false)), el('span', 'unread'));
      chat = { key, kind, label, to, rows: [], unread: 0, used: ++used, button };
      chats.set(key, chat);
      draw();
      return chat;
    }

    function makeRoomForPrivate() {
      const privates = [...chats.values()].filter((c) => c.kind === 'private' && c.key !== current);
      if (privates.length < maxPrivate) return;
      drop(privates.reduce((a, b) => (a.used <= b.used ? a : b)).key);
    }

    // Adds a row to conversation `key`; `counts`: a message, unread when
    // its conversation is not shown.
    function add(key, row, counts) {
      const chat = chats.get(key) || chats.get(EVERYONE);
      chat.rows.push(row);
      total += 1;
      if (counts) chat.used = ++used;
      if (chat.key === current) messages.append(row);
      else if (counts) setUnread(chat, chat.unread + 1);
      trim(chat, maxRows);
      if (total > maxAll) {
        trim([...chats.values()].reduce((a, b) => (a.rows.length >= b.rows.length ? a : b)), 0, 1);
      }
      return chat.key === current;
    }

    // Drops the oldest rows of `chat` past `keep`, or `n` of them.
    function trim(chat, keep, n = chat.rows.length - keep) {
      if (n <= 0) return;
      chat.rows.splice(0, n).forEach((row) => row.remove());
      total -= n;
    }

    function setUnread(chat, n) {
      chat.unread = n;
      chat.button.querySelector('.unread').textContent = n ? String(n) : '';
      chat.button.classList.toggle('has-unread', n > 0);
    }

    // Shows conversation `key` in the message list.
    function show(key) {
      const chat = chats.get(key) || chats.get(EVERYONE);
      current = chat.key;
      setUnread(chat, 0);
      messages.replaceChildren(...chat.rows);
      for (const c of chats.values()) {
        if (c === chat) c.button.setAttribute('aria-current', 'true');
        else c.button.removeAttribute('aria-current');
      }
      onShow(chat);
    }

    function drop(key) {
      const chat = chats.get(key);
      if (!chat || key === EVERYONE) return;
      total -= chat.rows.length;
      chats.delete(key);
      draw();
      if (key === current) show(EVERYONE);
    }

    // Everyone first, then rooms, then private conversations, each group
    // in the order it came.
    function draw() {
      const order = ['everyone', 'room', 'private'];
      const sorted = [...chats.values()].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
      list.replaceChildren(
        ...sorted.map((chat) => {
          const item = el('li');
          item.append(chat.button);
          return item;
        }),
      );
    }

    // Everything forgotten, Everyone empty and shown: a clean page.
    function reset() {
      chats.clear();
      total = 0;
      open(EVERYONE, 'everyone', 'Everyone', null);
      show(EVERYONE);
    }

    list.addEventListener('click', (ev) => {
      const b = ev.target.closest('button.chat-item');
      if (b && chats.has(b.dataset.key)) show(b.dataset.key);
    });
    reset();

    return {
      open,
      add,
      show,
      drop,
      reset,
      get: (key) => chats.get(key),
      current: () => chats.get(current),
      last: (key) => (chats.get(key) || { rows: [] }).rows.at(-1) || null,
      rooms: () => [...chats.values()].filter((c) => c.kind === 'room'),
    };
  }

  return Object.freeze({ EVERYONE, roomKey, peopleKey, make });
})();
