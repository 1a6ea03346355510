/*
 * What a line typed into the page means: the terminal client's rules
 * (src/client/input.rs), mirrored exactly, so a message goes to the same
 * people whichever way it was typed (Shift+Enter is the client's `\`).
 * Kept apart from app.js because it is pure: text in, {to, text} or a
 * command out, or an Error saying why not — and one file per concern.
 *
 * `@bob hi`, `@bob,carol hi`, `@bob @carol hi` and `hi @bob @carol` are
 * private; an `@` word in that trailing run that is no name is an error,
 * never a broadcast; punctuation right after a name is punctuation
 * (`@erin: hi`); `\@` is a literal `@`; `#rust hi` goes to a room, `\#`
 * is a literal `#` at the start; `//x` sends `/x`; a plain line (to:
 * null) goes to the conversation one is in. Commands: `/join #r [key]`,
 * `/part [#r] [text]`, `/go [#r]`, `/rooms`, `/who [#r]`, `/stats`,
 * `/quit [text]`, `/help`; and a room operator's, in the room one is in
 * unless one is named: `/topic [#r] [text]` (`-delete` clears it),
 * `/mode [#r] [modes [args]]`, `/kick [#r] name [why]`, `/invite name [#r]`.
 *
 * Also pure, so here too: the protocol's text escapes, its fields, and
 * `visible`, which makes what is received safe to show as text.
 */
'use strict';

// The page's one global (app.js leaves none): these rules and helpers, frozen.
const evchatInput = (() => {
  const NAME = /^[A-Za-z0-9_-]{1,32}$/;
  const ROOM = /^#[A-Za-z0-9_-]{1,32}$/;
  const ROOM_RULE = 'rooms are # and 1-32 characters of A-Z a-z 0-9 _ -';
  // Names are compared without ASCII case, as the server compares them
  // (`Bob` is `bob`); they are ASCII, so toLowerCase is that fold.
  const sameName = (a, b) => a.toLowerCase() === b.toLowerCase();

  // interpret(line) returns {to, text} (to: null for the conversation one
  // is in; names and rooms otherwise) or {command, ...}; it throws an
  // Error saying why not.

  // Two columns, padded here so they line up in the monospace block the
  // page shows them in.
  const HELP_ROWS = [
    ['hello', 'to the conversation you are in (Everyone: to all)'],
    ['@bob hello', 'private to bob (held if he is away)'],
    ['hello @bob', 'the same: names may come last'],
    ['@bob @carol hi', 'to both (or @bob,carol hi)'],
    ['#rust hello', 'to the room #rust'],
    ['\\@ \\#', 'a plain @ or # (see you \\@noon)'],
    ['//text', 'text that starts with a slash'],
    ['Shift+Enter', 'a new line in the message'],
    ['/join #rust [key]', 'join a room; it becomes the one you are in'],
    ['/go #rust', 'go to a room you are in (/go: to Everyone)'],
    ['/part [#r] [bye]', 'leave a room (without a name: this one)'],
    ['/rooms', 'the rooms you are in'],
    ['/list', 'every room, with its number of members'],
    ['/whois bob', 'is bob online, away or offline, and in which rooms'],
    ['/away [text]', 'mark yourself away (/away alone: back)'],
    ['/nick name', 'take another name, your rooms with you (servers without accounts)'],
    ['/who [#rust]', 'who is online (in a room: @ marks its operators)'],
    ['/topic [#r] text', 'set the topic of this room (or of #r)'],
    ['/topic [#r]', 'show the topic (/topic -delete clears it)'],
    ['/mode [#r] [+o x]', 'show or change the room\'s modes: +o +t +m +i +k +l +b'],
    ['/kick bob [why]', 'put bob out of this room (or /kick #r bob)'],
    ['/invite bob [#r]', 'invite bob into this room (or into #r)'],
    ['/stats', 'the server\'s counters'],
    ['/quit [text]', 'leave the chat, with an optional goodbye'],
    ['/help', 'this help'],
  ];
  const HELP_WIDTH = Math.max(...HELP_ROWS.map(([keys]) => keys.length)) + 2;
  const HELP = HELP_ROWS.map(([keys, what]) => keys.padEnd(HELP_WIDTH) + what).join('\n');

  // Rust's char::is_whitespace, which trim() and friends use there.
  const SPACE = /[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
  const trimEnd = (t) => { let i = t.length; while (i && SPACE.test(t[i - 1])) i--; return t.slice(0, i); };
  const trimStart = (t) => { let i = 0; while (i < t.length && SPACE.test(t[i])) i++; return t.slice(i); };
  const trim = (t) => trimStart(trimEnd(t));
  const blank = (t) => trimEnd(t) === '';
  const literalAt = (t) => t.split('\\@').join('@');

  function room(r) {
    if (!ROOM.test(r)) throw new Error('bad room ' + JSON.stringify(r) + ': ' + ROOM_RULE);
    return r;
  }

  // A command's leading #room, if it names one, and the rest after it.
  function roomFirst(rest) {
    if (!rest.startsWith('#')) return [null, rest];
    const sp = rest.indexOf(' ');
    return sp < 0 ? [room(rest), ''] : [room(rest.slice(0, sp)), trim(rest.slice(sp + 1))];
  }

  function name(n, missing) {
    if (!n) throw new Error(missing);
    if (!NAME.test(n)) throw new Error('bad name ' + JSON.stringify(n) + ': names are 1-32 characters of A-Z a-z 0-9 _ -');
    return n;
  }

  // A room operator's commands; undefined for the others.
  function opCommand(key, rest) {
    switch (key) {
      case 'topic': {
        const [r, text] = roomFirst(rest);
        return { command: 'topic', room: r, text: text === '' ? null : text === '-delete' ? '' : text };
      }
      case 'mode': {
        const [r, changes] = roomFirst(rest);
        if (changes && !/^[+-]/.test(changes)) throw new Error('modes start with + or -: /mode +o bob, /mode -t');
        return { command: 'mode', room: r, changes: changes || null };
      }
      case 'kick': {
        const [r, tail] = roomFirst(rest);
        const sp = tail.indexOf(' ');
        const who = name(sp < 0 ? tail : tail.slice(0, sp), 'kick whom? /kick bob [why]');
        const why = sp < 0 ? '' : tail.slice(sp + 1);
        return { command: 'kick', room: r, name: who, text: blank(why) ? null : trim(why) };
      }
      case 'invite': {
        const words = rest.split(SPACE).filter(Boolean);
        if (words.length < 1 || words.length > 2) throw new Error('invite whom? /invite bob [#room]');
        return { command: 'invite', name: name(words[0]), room: words[1] ? room(words[1]) : null };
      }
      default: return undefined;
    }
  }

  // The commands that name rooms; undefined for the others.
  function roomCommand(key, rest) {
    const sp = rest.indexOf(' ');
    const first = sp < 0 ? rest : rest.slice(0, sp);
    const after = sp < 0 ? '' : rest.slice(sp + 1);
    const text = (t) => (blank(t) ? null : trim(t));
    switch (key) {
      case 'who': return { command: 'who', room: rest ? room(rest) : null };
      case 'join':
        if (SPACE.test(trim(after))) throw new Error('a room key is one word: /join #room key');
        return { command: 'join', room: room(first), key: after ? trim(after) : null };
      case 'go': return { command: 'go', room: rest ? room(rest) : null };
      case 'rooms': return { command: 'rooms' };
      case 'list': return { command: 'list' };
      case 'part':
        if (first.startsWith('#')) return { command: 'part', room: room(first), text: text(after) };
        return { command: 'part', room: null, text: text(rest) };
      default: return opCommand(key, rest);
    }
  }

  const COMMANDS = { whois: 'whois', away: 'away', nick: 'nick', stats: 'stats', help: 'help', '?': 'help', quit: 'quit', exit: 'quit' };

  function interpret(line) {
    if (line.startsWith('//')) return message(line.slice(1));
    if (line.startsWith('/')) {
      const sp = line.indexOf(' ');
      const word = sp < 0 ? line.slice(1) : line.slice(1, sp);
      const rest = sp < 0 ? '' : trim(line.slice(sp + 1));
      const key = word.replace(/[A-Z]/g, (c) => c.toLowerCase());
      const rooms = roomCommand(key, rest);
      if (rooms) return rooms;
      if (!Object.hasOwn(COMMANDS, key)) throw new Error('unknown command /' + word + '; /help lists commands');
      return { command: COMMANDS[key], rest };
    }
    if (line.startsWith('@')) return addressed(line);
    if (line.startsWith('\\#')) return message(line.slice(1));
    if (line.startsWith('#')) {
      const sp = line.indexOf(' ');
      const target = sp < 0 ? line : line.slice(0, sp);
      const text = sp < 0 ? '' : line.slice(sp + 1);
      if (!ROOM.test(target)) {
        throw new Error('bad room ' + JSON.stringify(target) + ': ' + ROOM_RULE + ' (write \\# for a literal #)');
      }
      if (blank(text)) throw new Error('nothing to send to ' + target);
      return { to: [target], text: literalAt(text) };
    }
    return message(line);
  }

  // No leading names: a trailing run of `@name` words, if any, names who
  // gets it; otherwise it is plain.
  function message(line) {
    const words = [];
    let rest = trimEnd(line);
    for (;;) {
      let i = rest.length;
      while (i && !SPACE.test(rest[i - 1])) i--;
      const word = rest.slice(i);
      if (!word.startsWith('@')) break;
      words.unshift(word);
      rest = trimEnd(rest.slice(0, Math.max(i - 1, 0)));
      if (!rest) break;
    }
    if (!words.length) return { to: null, text: literalAt(line) };
    const to = [];
    for (const word of words) addRecipients(to, word.slice(1));
    return privately(to, rest);
  }

  // `@a @b,c text`: leading @-words name the recipients.
  function addressed(line) {
    const to = [];
    let rest = line;
    while (rest.startsWith('@')) {
      const after = rest.slice(1);
      const sp = after.search(/[ \t]/);
      addRecipients(to, sp < 0 ? after : after.slice(0, sp));
      rest = sp < 0 ? '' : trimStart(after.slice(sp + 1));
    }
    return privately(to, rest);
  }

  // Adds the names of one `@` word (`bob` or `bob,carol`) to `to`.
  function addRecipients(to, word) {
    if (!word) throw new Error('who to? write @name (or \\@ for a plain @)');
    // Punctuation typed after a mention is not part of the name.
    const names = word.replace(/[:,.!?;)]+$/, '');
    for (const name of names.split(',').filter(Boolean)) {
      if (!NAME.test(name)) {
        throw new Error('bad name ' + JSON.stringify(name) +
          ': names are 1-32 characters of A-Z a-z 0-9 _ - (write \\@ for a plain @)');
      }
      if (!to.some((t) => sameName(t, name))) to.push(name);
    }
  }

  function privately(to, text) {
    if (!to.length) throw new Error('who to? write @name message');
    if (blank(text)) throw new Error('nothing to send to ' + to.join(', '));
    return { to, text: literalAt(text) };
  }

  /* ---- text: protocol escapes and visible control characters ---- */

  const escapeText = (t) =>
    t.replace(/[\\\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : '\\r'));

  const unescapeText = (t) =>
    t.replace(/\\([\\nr])/g, (m, c) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\\'));

  // C0 controls and DEL as control pictures (U+2400...); C1, bidi marks,
  // line/paragraph separators and invisible format characters (soft
  // hyphen, zero width space, word joiner, BOM...: `adm\u200bin` is not
  // `admin`) as <U+XXXX>; LF stays only where allowed. The joiners U+200C
  // and U+200D stay: Persian and emoji need them.
  function visible(text, keepLF) {
    return text.replace(
      /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/g,
      (c) => {
        const n = c.charCodeAt(0);
        if (c === '\n' && keepLF) return c;
        if (n < 0x20) return String.fromCharCode(0x2400 + n);
        if (n === 0x7f) return '\u2421';
        return '<U+' + n.toString(16).toUpperCase().padStart(4, '0') + '>';
      },
    );
  }

  // Splits `rest` into at most n space-separated fields, the last taking
  // what remains (the protocol's <text> keeps its spaces).
  function fields(rest, n) {
    const out = [];
    for (let i = 1; i < n; i++) {
      const sp = rest.indexOf(' ');
      if (sp < 0) break;
      out.push(rest.slice(0, sp));
      rest = rest.slice(sp + 1);
    }
    out.push(rest);
    return out;
  }

  return Object.freeze({
    HELP, NAME, ROOM, interpret, blank, visible, escapeText, unescapeText, fields, sameName,
  });
})();
