/*
 * evchat in a browser: one WebSocket to /ws, one protocol frame of
 * docs/PROTOCOL.md per message, both ways. Plain script, no build step.
 *
 * Shaped by three rules:
 * - Everything received is untrusted. It reaches the page only through
 *   textContent (never as HTML), after `visible` has turned control and
 *   bidi characters into visible tokens, so a sender can neither run
 *   script nor forge or reorder what others see.
 * - The password lives in a variable and nowhere else (no storage, no
 *   cookie); a reload forgets it.
 * - A dropped connection is retried with back-off and the login repeated,
 *   except when the server ended the session on purpose: another login
 *   took the name over (two tabs must not fight over it), or the login
 *   itself was refused. Then a person decides.
 *
 * Conversations (Everyone, rooms, private ones) are web/chats.js, the
 * rows of the message list web/rows.js, what is about rooms web/rooms.js,
 * about their operators, topics and modes web/ops.js, what a typed line
 * means web/input.js. All of this is one function, so it
 * leaves no globals behind: a script pasted into the console (the
 * README's `/ws` example) cannot clash.
 */
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const { HELP, NAME, interpret, blank, visible, escapeText, unescapeText, fields, sameName } =
    evchatInput;
  const MAX_ROWS = 2000; // in one conversation
  const MAX_ALL_ROWS = 10000; // in all of them
  const MAX_PRIVATE = 100; // private conversations kept
  const FIRST_DELAY = 500;
  const MAX_DELAY = 10000;

  let ws = null; // the current socket, if any
  let me = ''; // the name to log in as
  let password = null; // only in memory, only once the server asked for one
  let wanted = false; // should the page be connected and logged in?
  let loggedIn = false;
  let everIn = false; // has this name logged in (so a 409 is only our own ghost)?
  let replaced = false; // another login took the name over: wait for a person
  let delay = FIRST_DELAY;
  let timer = null;
  let heldRun = null; // private messages since OK LOGIN, until the held-mail PING
  let chats = null; // the conversations (web/chats.js)
  let rooms = null; // room frames and commands (web/rooms.js)
  let ops = null; // operators, topics and modes (web/ops.js)
  let why = null; // why the last attempt failed, when the server said
  let sent = []; // [token, rows] of messages sent and not yet past their PING
  let nextToken = 0;
  let lost = false; // the connection dropped while logged in
  let quitting = false; // the user typed /quit: no reconnecting
  let awayText = null; // the user's /away: the session's, said again after a reconnection
  const asked = { who: false, stats: false }; // show the answer as a note
  const users = new Set();

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The message list and its rows (web/rows.js), made in init().
  let rows = null;
  let later, showMessage, note, problem, presence, chatOf;

  /* ---- who is online ---- */

  function drawUsers() {
    const list = $('users');
    const names = [...users].sort();
    list.replaceChildren(
      ...names.map((name) => {
        // In a room, its operators are @name, as IRC shows them.
        const b = el('button', 'user', (ops ? ops.mark(name) : '') + visible(name, false));
        b.type = 'button';
        b.dataset.name = name;
        if (sameName(name, me)) b.classList.add('me');
        const item = el('li');
        item.append(b);
        return item;
      }),
    );
    $('who-count').textContent = '(' + names.length + ')';
    $('who-toggle').textContent = 'Online (' + names.length + ')';
  }

  /* ---- connection state ---- */

  // `short`, if given, is what a phone shows instead of `text`.
  function setState(state, text, short) {
    const s = $('state');
    s.dataset.state = state;
    if (short) s.replaceChildren(el('span', 'long', text), el('span', 'short', short));
    else s.textContent = text;
    s.title = text;
    document.body.dataset.state = state;
    $('send').disabled = state !== 'online';
  }

  function showLogin(message, info) {
    $('login').hidden = false;
    $('login-info').hidden = !info;
    $('login-info').textContent = info || '';
    $('login-error').hidden = !message;
    $('login-error').textContent = message ? visible(message, false) : '';
    const needPassword = !$('password-row').hidden;
    (needPassword ? $('password') : $('name')).focus();
  }

  function connect() {
    clearTimeout(timer);
    timer = null;
    replaced = false;
    $('notice').hidden = true;
    setState('connecting', 'connecting…');
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
    const sock = new WebSocket(url);
    ws = sock;
    sock.onopen = () => ws === sock && sendLogin();
    sock.onmessage = (ev) => ws === sock && typeof ev.data === 'string' && receive(ev.data);
    sock.onclose = () => ws === sock && closed();
  }

  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(frame);
  }

  function sendLogin() {
    setState('connecting', 'logging in as ' + me + '…', 'logging in…');
    send('LOGIN ' + me + (password ? ' ' + escapeText(password) : ''));
  }

  function closed() {
    ws = null;
    if (loggedIn && !quitting) note('connection lost');
    if (loggedIn) lost = !quitting;
    if (quitting) leftTheChat();
    quitting = false;
    loggedIn = false;
    heldRun = null;
    rooms.reset();
    ops.reset();
    sent = [];
    users.clear(); // unknown until the next WHO
    later(false);
    if (replaced) return setState('replaced', 'signed in elsewhere');
    if (!wanted) return setState('offline', 'not connected');
    const wait = Math.round(delay * (0.75 + Math.random() * 0.5));
    delay = Math.min(delay * 2, MAX_DELAY);
    const retry = 'retrying in ' + (wait / 1000).toFixed(1) + ' s';
    setState(why === 'server full' ? 'full' : 'waiting', (why || 'disconnected') + ' — ' + retry, retry);
    why = null;
    timer = setTimeout(connect, wait);
  }

  // After /quit: the login card alone, nothing of the conversations left.
  function leftTheChat() {
    chats.reset();
    $('chat').hidden = true;
    $('composer').hidden = true;
    $('input').value = '';
    showLogin(null, 'You left the chat.');
  }

  // The server ended things on purpose: stop and let a person act.
  function stop() {
    wanted = false;
    clearTimeout(timer);
    if (ws) ws.close();
  }

  /* ---- frames from the server ---- */

  function receive(frame) {
    const sp = frame.indexOf(' ');
    const verb = sp < 0 ? frame : frame.slice(0, sp);
    const rest = sp < 0 ? '' : frame.slice(sp + 1);
    // Held mail ends at the PING after it, or at the first room's catch-up.
    if (heldRun && (verb === 'PING' || (verb === 'JOIN' && sameName(fields(rest, 2)[0], me)))) {
      heldRun.forEach((row) => rows.marked(row, 'held while you were away'));
    }
    // A message's tags (TAGS, just before it) are part of it.
    if (verb !== 'MSG' && verb !== 'TAGS') heldRun = null;
    if (ops.frame(verb, rest) || rooms.frame(verb, rest)) return;
    switch (verb) {
      case 'OK':
        if (rest.startsWith('LOGIN ')) loggedInAs(rest.slice(6));
        if (rest.startsWith('NICK ')) renamedTo(rest.slice(5));
        break;
      case 'SAY': {
        const [from, time, text] = fields(rest, 3);
        showMessage(from, null, time, unescapeText(text || ''));
        break;
      }
      case 'MSG': {
        const [from, list, time, text] = fields(rest, 4);
        const to = list.split(',');
        const row = showMessage(from, to, time, unescapeText(text || ''));
        const chat = chatOf(from, to);
        if (chat.kind !== 'room' && heldRun) heldRun.push(row);
        rooms.arrived(chat, row);
        break;
      }
      case 'JOINED': {
        const [name, time] = fields(rest, 2);
        users.add(name);
        later(false);
        presence('joined', name, time);
        break;
      }
      case 'LEFT': {
        const [name, time, text] = fields(rest, 3);
        users.delete(name);
        later(false);
        presence('left', name, time, text && unescapeText(text));
        break;
      }
      case 'USERS':
        users.clear();
        rest.split(' ').filter(Boolean).forEach((n) => users.add(n));
        later(false);
        if (asked.who) note('online: ' + [...users].sort().join(', '));
        asked.who = false;
        break;
      case 'AWAY': {
        // Ours answers /away; another's follows a message we sent them.
        const [name, time, text] = fields(rest, 3);
        const said = text ? unescapeText(text) : '';
        if (sameName(name, me)) {
          note(text ? 'you are away: ' + said : 'you are back', time);
          // The bar says it as long as it lasts.
          const state = text ? 'away' : 'online';
          setState('online', state + ' as ' + visible(me, false), state);
        }
        else note(name + (text ? ' is away: ' + said : ' is back'), null, chatOf(me, [name]).key);
        break;
      }
      case 'WHOIS': {
        const [name, state, list, since, text] = fields(rest, 5);
        const where = list === '-' ? 'in no room' : 'in ' + list.split(',').join(', ');
        if (state === 'away') {
          const at = new Date(since);
          const hhmm = isNaN(at) ? since : at.toTimeString().slice(0, 5);
          note(name + ' is away since ' + hhmm + ' (' + where + '): ' + unescapeText(text || ''));
        } else {
          note(name + ' is ' + (state === 'online' ? 'online' : 'offline') + ', ' + where);
        }
        break;
      }
      case 'STATS':
        if (asked.stats) note(rest);
        asked.stats = false;
        break;
      case 'PING':
        send(sp < 0 ? 'PONG' : 'PONG ' + rest);
        // Held mail and each window of rooms' catch-up end with a PING.
        rooms.ping();
        later(true);
        break;
      case 'ERR':
        refused(rest.slice(0, 3), unescapeText(rest.slice(4)));
        break;
      case 'PONG': {
        if (rooms.pong(rest)) break;
        // Every frame before our PING was handled: no error came for them.
        const i = sent.findIndex(([token]) => token === rest);
        if (i >= 0) sent.splice(0, i + 1);
        break;
      }
      default: // BYE: nothing to show
    }
  }

  // `OK NICK <name>`: the same session, called otherwise from now on (a
  // reconnection logs in as it).
  function renamedTo(name) {
    me = name;
    note('you are ' + name + ' now');
    setState('online', 'online as ' + visible(name, false), 'online');
  }

  function loggedInAs(name) {
    // The server spells the name as it was first written (`BOB` logs in as
    // `bob`): the same name, whose conversations stay.
    if (!sameName(name, me) || !everIn) {
      chats.reset(); // nothing of another name's
      if (!sameName(name, me)) awayText = null;
    }
    loggedIn = true;
    everIn = true;
    me = name;
    delay = FIRST_DELAY;
    heldRun = [];
    if (lost) note('connected again');
    lost = false;
    if (awayText) send('AWAY ' + escapeText(awayText));
    setState('online', 'online as ' + visible(name, false), 'online');
    $('login').hidden = true;
    $('chat').hidden = false;
    $('composer').hidden = false;
    $('login-error').hidden = true;
    send('WHO');
    send('ROOMS');
    $('input').focus();
  }

  function refused(code, text) {
    if (code === '409' && text.startsWith('replaced')) {
      replaced = true;
      stop();
      $('notice-text').textContent = 'Signed in elsewhere: ' + visible(text, false) +
        '. This page stays out until you take the name back.';
      $('notice').hidden = false;
      return;
    }
    if (code === '503' && !loggedIn) {
      // Full, shutting down or busy: the server closes or we do; retry later.
      const full = /full/.test(text);
      why = full ? 'server full' : 'server busy';
      setState(full ? 'full' : 'waiting', visible(text, false), why);
      const told = full ? 'The server is full; this page keeps trying.' : text;
      if (!everIn || !wanted) showLogin(told);
      if (wanted && ws) ws.close();
      return;
    }
    if (!loggedIn && (code === '401' || code === '409' || code === '400')) {
      return loginRefused(code, text);
    }
    // Errors come in order, before the PONG of the PING sent after the
    // message that caused them: these mean it went to nobody.
    if (sent.length && ['400', '403', '404', '413'].includes(code)) {
      for (const row of sent.shift()[1]) {
        row.classList.add('failed');
        row.querySelector('.text').before(el('span', 'tag failed-tag', 'not sent'));
      }
    }
    problem(plainError(code, text));
  }

  // The common errors in people's words; the rest as the server said them.
  function plainError(code, text) {
    const user = /^no such user: ([^;]*)/.exec(text);
    const bytes = /(\d+) bytes/.exec(text);
    switch (code) {
      case '404':
        return user ? 'not sent: nobody here is called ' + user[1] : 'not sent: ' + text;
      case '413':
        return 'not sent: the message is too long' +
          (bytes ? ' (the server takes at most ' + bytes[1] + ' bytes)' : '');
      case '429':
        return 'the server dropped this page: it fell too far behind reading messages';
      case '408':
        return 'the server dropped this page after a long silence';
      case '503':
        return 'the server cannot do that now: ' + text;
      default:
        return 'error ' + code + ': ' + text;
    }
  }

  function loginRefused(code, text) {
    if (code === '409' && everIn) {
      // Likely our own old session, not yet gone from the server: try again.
      why = 'name still in use';
      if (ws) ws.close();
      return;
    }
    wanted = false;
    if (code === '401' && /failed logins/.test(text)) {
      stop();
      password = null;
      return showLogin(text + ' — try again when you are sure of the password.');
    }
    if (code === '401') {
      const tried = password !== null;
      password = null;
      $('password-row').hidden = false;
      $('password').value = '';
      setState('offline', 'password needed');
      return showLogin(tried ? text : 'This server needs a password for ' + me + '.');
    }
    stop();
    $('password-row').hidden = true;
    showLogin(text);
  }

  /* ---- what the user does ---- */

  function submitLogin(ev) {
    ev.preventDefault();
    const name = $('name').value.trim();
    if (!NAME.test(name)) return showLogin('A name is 1–32 letters, digits, _ or -.');
    if (!sameName(name, me)) everIn = false;
    lost = false;
    me = name;
    const pw = $('password-row').hidden ? null : $('password').value;
    password = pw ? pw : null;
    $('password').value = '';
    wanted = true;
    delay = FIRST_DELAY;
    $('login-error').hidden = true;
    if (ws && ws.readyState === WebSocket.OPEN && !loggedIn) sendLogin();
    else connect();
  }

  function submitMessage(ev) {
    ev.preventDefault();
    const input = $('input');
    const line = input.value.replace(/\n+$/, '');
    if (!loggedIn || blank(line)) return;
    let action;
    try {
      action = interpret(line);
    } catch (e) {
      return problem(e.message);
    }
    rows.pin(); // what one does is always shown
    // A refused line stays in the box, to be fixed.
    const refusal = action.command ? command(action) : sendMessage(action.to, action.text);
    if (refusal) return problem(refusal);
    input.value = '';
  }

  // A plain line goes to the conversation shown; `to` names its own.
  function sendMessage(named, text) {
    if (text.includes('\0')) return 'a message cannot hold a NUL character';
    const here = chats.current();
    // Names are one in any case: a typed @ALICE is the alice online.
    const shownAs = (n) => [...users].find((u) => sameName(u, n)) || n;
    const to = named ? named.map(shownAs) : here.to;
    send(to ? 'MSG ' + to.join(',') + ' ' + escapeText(text) : 'SAY ' + escapeText(text));
    // The server does not echo to the sender (except a MSG to oneself).
    if (to && to.some((n) => sameName(n, me))) return null;
    const rows = [showMessage(me, to, null, text)];
    // Shown where it was typed too, when that is elsewhere.
    if (chatOf(me, to) !== here) rows.push(showMessage(me, to, null, text, here.key));
    nextToken += 1;
    sent.push(['m' + nextToken, rows]);
    send('PING m' + nextToken);
    return null;
  }

  // Runs a command; returns why not, if it cannot be.
  function command(action) {
    const forRooms = rooms.command(action);
    if (forRooms !== undefined) return forRooms;
    const forOps = ops.command(action);
    if (forOps !== undefined) return forOps;
    const { command: what, rest } = action;
    switch (what) {
      case 'help': {
        const row = note(HELP);
        row.querySelector('.text').classList.add('help');
        return null;
      }
      case 'quit':
        wanted = false; // no reconnecting: the user left
        quitting = true;
        send(rest ? 'QUIT ' + escapeText(rest) : 'QUIT');
        return null;
      case 'who':
        asked.who = true;
        send('WHO');
        return null;
      case 'away':
        awayText = rest || null;
        send(rest ? 'AWAY ' + escapeText(rest) : 'AWAY');
        return null;
      case 'whois':
        if (!NAME.test(rest)) return 'whois whom? /whois bob';
        send('WHOIS ' + rest);
        return null;
      case 'nick':
        if (!NAME.test(rest)) return 'which name? /nick alice2';
        send('NICK ' + rest);
        return null;
      default: // stats
        asked[what] = true;
        send(what.toUpperCase());
        return null;
    }
  }

  // The conversation `chat` is now shown: its name above, the box says
  // where a line goes, the list at its end.
  function shown(chat) {
    $('chat-title').textContent = visible(chat.label, false);
    $('leave').hidden = chat.kind !== 'room';
    const where = chat.kind === 'everyone' ? 'everyone' : $('chat-title').textContent;
    $('input').placeholder = 'Message ' + where + ' (@name: private, /help)';
    if (ops) ops.shown(chat);
    later(false); // a room's operators are marked in the online list
    rows.pin();
  }

  // A click on a name opens the private conversation with them.
  function startPrivate(name) {
    chats.show(chatOf(me, [name]).key);
    document.body.classList.remove('who-open');
    $('who-toggle').setAttribute('aria-expanded', 'false');
    $('input').focus();
  }

  function joinFromList(ev) {
    ev.preventDefault();
    const room = $('join-room').value.trim();
    const typed = room.startsWith('#') ? room : '#' + room;
    if (!loggedIn || !evchatInput.ROOM.test(typed)) {
      $('join-room').setCustomValidity('# and 1–32 letters, digits, _ or -');
      return $('join-room').reportValidity();
    }
    $('join-room').value = '';
    command({ command: 'join', room: typed });
  }

  function init() {
    rows = evchatRows.make({ me: () => me, visible, drawUsers });
    ({ later, showMessage, note, problem, presence, chatOf } = rows);
    chats = evchatChats.make({
      list: $('chat-list'),
      messages: $('messages'),
      visible,
      maxRows: MAX_ROWS,
      maxAll: MAX_ALL_ROWS,
      maxPrivate: MAX_PRIVATE,
      onShow: shown,
    });
    rows.use(chats);
    rooms = evchatRooms.make({ me: () => me, send, chats, rows });
    ops = evchatOps.make({
      me: () => me, send, chats, rows, topicEl: $('chat-topic'), redraw: () => later(false),
    });
    $('login').addEventListener('submit', submitLogin);
    $('join-form').addEventListener('submit', joinFromList);
    $('join-room').addEventListener('input', () => $('join-room').setCustomValidity(''));
    $('leave').addEventListener('click', () => command({ command: 'part' }));
    $('composer').addEventListener('submit', submitMessage);
    $('input').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        $('composer').requestSubmit();
      }
    });
    rows.watch();
    $('users').addEventListener('click', (ev) => {
      const b = ev.target.closest('button.user');
      if (b) startPrivate(b.dataset.name);
    });
    $('who-toggle').addEventListener('click', () => {
      const open = document.body.classList.toggle('who-open');
      $('who-toggle').setAttribute('aria-expanded', String(open));
    });
    $('takeover').addEventListener('click', () => {
      wanted = true;
      delay = FIRST_DELAY;
      connect();
    });
    setState('offline', 'not connected');
  }

  init();
})();
