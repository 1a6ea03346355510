#!/usr/bin/env python3
"""The issue's item 6, measured: one user on node a sends 60 KB SAYs flat
out for --seconds while --bystanders users sit on node b reading everything
and one of them does PING/PONG round trips. Reports node b's bystander
round trips (p50, p99, max, during and after), node b's peak RSS (VmHWM),
how many of node b's users were cut, how long a STATS on node b took
right after the flood, what node b dropped (bus_lagged), and how many
SAYs node a took in from its flooder (its pace) and its peak RSS.

    python3 scripts/remote_flood.py --server target/release/evchat-server
    python3 scripts/remote_flood.py --local    # the same flood from a user on b

Needs nats-server (PATH or /usr/sbin). Everything runs on free ports in a
temporary directory, removed at the end.
"""
import argparse
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, patience=20.0):
    deadline = time.time() + patience
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not start")


def login(port, name):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(f"LOGIN {name}\nPING ready\n".encode())
    buf = b""
    while b"PONG ready" not in buf:
        got = s.recv(65536)
        if not got:
            sys.exit(f"{name}: closed at login: {buf[-200:]!r}")
        buf += got
    if b"OK LOGIN" not in buf:
        sys.exit(f"{name}: {buf[-200:]!r}")
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="target/release/evchat-server")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--bystanders", type=int, default=40)
    ap.add_argument("--size", type=int, default=60000)
    ap.add_argument("--local", action="store_true", help="flood from node b itself")
    ap.add_argument("--after", type=float, default=10.0, help="seconds probed after")
    args = ap.parse_args()

    nats = shutil.which("nats-server") or "/usr/sbin/nats-server"
    tmp = tempfile.mkdtemp(prefix="evchat-remote-flood-")
    procs = []
    try:
        nport = free_port()
        conf = os.path.join(tmp, "nats.conf")
        with open(conf, "w") as f:
            f.write(f'listen: 127.0.0.1:{nport}\njetstream {{ store_dir: "{tmp}/js" }}\n')
        procs.append(subprocess.Popen([nats, "-c", conf], stderr=open(f"{tmp}/nats.log", "w")))
        wait_port(nport, "nats-server")
        ports = {}
        for node in "ab":
            ports[node] = free_port()
            log = open(f"{tmp}/node-{node}.log", "w")
            procs.append(subprocess.Popen(
                [args.server, "--port", str(ports[node]), "--node-name", node,
                 "--cluster", f"nats://127.0.0.1:{nport}", "--cluster-replicas", "1",
                 "--held-bytes", "16M", "--data-dir", f"{tmp}/data-{node}"],
                stderr=log, stdout=log))
            wait_port(ports[node], f"node {node}")
        node_b = procs[-1]

        bystanders = [login(ports["b"], f"by{i}") for i in range(args.bystanders)]
        probe = bystanders[0]
        flood_port = ports["b"] if args.local else ports["a"]
        flooder = login(flood_port, "flooder")
        time.sleep(1.0)  # the names reach both nodes

        stop = threading.Event()
        sent = [0]

        def flood():
            line = b"SAY " + b"x" * args.size + b"\n"
            end = time.time() + args.seconds
            flooder.setblocking(True)
            while time.time() < end:
                flooder.sendall(line * 4)
                sent[0] += 4

        def drain_flooder():
            flooder.settimeout(0.2)
            while not stop.is_set():
                try:
                    if not flooder.recv(1 << 16):
                        return
                except (socket.timeout, OSError):
                    pass

        cut = set()

        def read_bystanders():
            sel = selectors.DefaultSelector()
            for i, s in enumerate(bystanders[1:], 1):
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, i)
            while not stop.is_set():
                for key, _ in sel.select(0.2):
                    try:
                        got = key.fileobj.recv(1 << 18)
                    except BlockingIOError:
                        continue
                    except OSError:
                        got = b""
                    if not got:
                        cut.add(key.data)
                        sel.unregister(key.fileobj)

        rtts_during, rtts_after = [], []
        threads = [threading.Thread(target=f, daemon=True) for f in (drain_flooder, read_bystanders)]
        for t in threads:
            t.start()
        flood_thread = threading.Thread(target=flood, daemon=True)
        start = time.time()
        flood_thread.start()
        probe.settimeout(60)
        tail = b""
        n = 0
        probe_cut = False
        while time.time() < start + args.seconds + args.after:
            n += 1
            token = f"PONG p{n}\n".encode()
            t0 = time.time()
            try:
                probe.sendall(f"PING p{n}\n".encode())
                while token not in tail:
                    got = probe.recv(1 << 18)
                    if not got:
                        raise OSError("closed")
                    tail = (tail + got)[-(len(token) + (1 << 18)):]
            except OSError:
                probe_cut = True
                break
            tail = b""
            rtt = (time.time() - t0) * 1000
            (rtts_during if t0 < start + args.seconds else rtts_after).append(rtt)
        flood_thread.join()
        # STATS right after, on a fresh connection.
        s = socket.create_connection(("127.0.0.1", ports["b"]))
        t0 = time.time()
        s.sendall(b"STATS\n")
        s.settimeout(120)
        buf = b""
        while b"\n" not in buf:
            buf += s.recv(4096)
        stats_ms = (time.time() - t0) * 1000
        stats = buf.decode(errors="replace").strip()
        stop.set()
        for t in threads:
            t.join()
        with open(f"/proc/{node_b.pid}/status") as f:
            hwm = [l for l in f if l.startswith("VmHWM")][0].split()[1]
        node_a = procs[-2]
        with open(f"/proc/{node_a.pid}/status") as f:
            hwm_a = [l for l in f if l.startswith("VmHWM")][0].split()[1]
        s = socket.create_connection(("127.0.0.1", ports["a"]))
        s.sendall(b"STATS\n")
        s.settimeout(120)
        buf = b""
        while b"\n" not in buf:
            buf += s.recv(4096)
        stats_a = buf.decode(errors="replace").strip()

        def pct(xs, p):
            if not xs:
                return float("nan")
            xs = sorted(xs)
            return xs[min(len(xs) - 1, int(len(xs) * p))]

        print(f"flood from node {'b (local)' if args.local else 'a (remote)'}: "
              f"{sent[0]} SAYs of {args.size} B in {args.seconds:.0f} s, "
              f"{args.bystanders} users on node b")
        for what, xs in (("during", rtts_during), ("after", rtts_after)):
            print(f"  node b PING->PONG {what}: n={len(xs)} p50={pct(xs, .5):.1f} ms "
                  f"p99={pct(xs, .99):.1f} ms max={max(xs, default=float('nan')):.1f} ms")
        print(f"  node b peak RSS: {int(hwm) / 1024:.1f} MiB")
        slow_cut = [f for f in stats.split() if f.startswith("slow_cut=")]
        print(f"  node b users cut: {slow_cut[0] if slow_cut else '?'} "
              f"({len(cut) + int(probe_cut)} of {args.bystanders} saw their connection end)")
        print(f"  node b STATS after the flood: {stats_ms:.0f} ms")
        print(f"  {stats}")
        lagged = [f for f in stats.split() if f.startswith("bus_lagged=")]
        print(f"  node b {lagged[0] if lagged else 'bus_lagged=?'} (bus messages dropped)")
        if not args.local:
            frames = [int(f.split("=")[1]) for f in stats_a.split() if f.startswith("frames_in=")]
            taken = frames[0] if frames else 0
            print(f"  node a took in {taken} frames from its users ({taken / args.seconds:.0f}/s "
                  f"over the flood's {args.seconds:.0f} s), peak RSS {int(hwm_a) / 1024:.1f} MiB")
            print(f"  {stats_a}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
