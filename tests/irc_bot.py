#!/usr/bin/python3
"""An IRC bot on Debian's python3-irc library (irc 8.5), for the tests'
driver tests/common/irc_clients/python_irc.rs: what a bot author writes
with a library, not a hand-made client.

    irc_bot.py --host H --port P --nick N [--caps multi-prefix,away-notify]

It connects and registers the library's way (NICK, USER; with --caps, a
`CAP LS 302` first, then `CAP REQ`, `CAP END`), then:

- reads commands from stdin, one JSON array a line, and calls the
  library's method of that name: ["join", "#x"], ["privmsg", "#x", "hi"],
  ["part", "#x", "bye"], ["nick", "new"], ["names", "#x"],
  ["quit", "bye"]; ["raw", "AWAY :gone"] sends a line as it is. A command
  the library refuses prints an "error" event.
- prints every event the library hands it as one JSON object a line:
  {"type": "pubmsg", "source": "bob!bob@host", "target": "#x",
  "arguments": ["hi"]}. "all_raw_messages" events carry each line as
  received. Types are the library's names ("welcome" for 001,
  "endofmotd", "pubmsg", "privmsg", "join", "namreply", "disconnect"...).
- exits when the connection is closed (after a "disconnect" event), or
  when stdin closes (quitting first).

Pitfalls of this library version, kept as they are since bots meet them:
- It does not parse IRCv3 message tags: a line starting with `@` becomes
  an event whose type is the tags. So --caps should not name caps that add
  tags (server-time, message-tags...) unless that is what is tested.
- It sends NICK and USER as soon as the socket connects; --caps sends
  `CAP LS 302` from the socket factory, before them, so that the server
  holds registration until `CAP END`.
- Its line decoder is strict UTF-8 and would raise out of the loop on a
  bad byte: it is set to replace them (U+FFFD) so a test sees them.
- stdin is read with os.read, not sys.stdin: select() cannot see lines
  already in Python's buffer, so buffered reads would stall commands.
- JSON is printed ASCII-escaped, so the output does not depend on the
  locale's encoding.
"""

import argparse
import json
import os
import select
import socket
import sys

import irc.client

ALLOWED = {
    "join", "part", "privmsg", "notice", "nick", "names", "topic", "who",
    "whois", "whowas", "mode", "kick", "invite", "ison", "list", "userhost",
    "motd", "lusers", "time", "version", "ping", "action", "quit",
}


def emit(event):
    print(json.dumps(event), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--nick", required=True)
    parser.add_argument("--caps", default="")
    args = parser.parse_args()
    caps = [c for c in args.caps.split(",") if c]

    irc.client.ServerConnection.buffer_class.errors = "replace"
    reactor = irc.client.IRC()

    def on_event(connection, event):
        source = None if event.source is None else str(event.source)
        arguments = [str(a) for a in (event.arguments or [])]
        emit({"type": event.type, "source": source, "target": event.target,
              "arguments": arguments})
        if event.type == "cap" and caps:
            negotiate(connection, arguments)

    def negotiate(connection, arguments):
        # CAP * LS [*] :caps -> arguments ["LS", ("*",) "caps"]
        if arguments[:1] == ["LS"] and arguments[1:2] != ["*"]:
            connection.send_raw("CAP REQ :" + " ".join(caps))
        elif arguments[:1] in (["ACK"], ["NAK"]):
            connection.send_raw("CAP END")

    reactor.add_global_handler("all_events", on_event, -10)

    def factory(address):
        sock = socket.create_connection(address)
        if caps:
            sock.sendall(b"CAP LS 302\r\n")
        return sock

    conn = reactor.server()
    try:
        conn.connect(args.host, args.port, args.nick, username=args.nick,
                     ircname="harness " + args.nick, connect_factory=factory)
    except irc.client.ServerConnectionError as e:
        emit({"type": "error", "arguments": [str(e)]})
        return 1

    pending = b""
    while conn.is_connected():
        ready, _, _ = select.select([conn.socket, 0], [], [], 1.0)
        if conn.socket in ready:
            reactor.process_data([conn.socket])
        if 0 in ready and conn.is_connected():
            data = os.read(0, 65536)
            if not data:
                conn.disconnect("stdin closed")
                break
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.strip():
                    run(conn, json.loads(line.decode("utf-8")))
        reactor.process_timeout()
    return 0


def run(conn, command):
    name, args = command[0], command[1:]
    try:
        if name == "raw":
            conn.send_raw(args[0])
        elif name in ALLOWED:
            getattr(conn, name)(*args)
        else:
            raise ValueError("unknown command " + name)
    except Exception as e:  # the test is told, the bot goes on
        emit({"type": "error", "arguments": [repr(e)], "command": command})


if __name__ == "__main__":
    sys.exit(main())
