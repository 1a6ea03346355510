#!/usr/bin/env python3
"""A flood of TLS handshakes: keep N replayed ClientHellos in flight on the
TLS port (one real ClientHello, made once; a connection answered or closed
is replaced at once) while a bystander on the plain port measures PING->PONG
round trips. Prints the flood's figures and the bystander's p50/p99/max.

usage: handshake_flood.py TLS_PORT PLAIN_PORT [N=1000] [SECONDS=5]

against e.g. (an RSA-4096 key makes each handshake cost milliseconds):
  openssl req -x509 -newkey rsa:4096 -nodes -subj /CN=localhost \
      -keyout key.pem -out cert.pem
  evchat-server --port 5555 --tls-port 5556 --tls-cert cert.pem --tls-key key.pem
"""
import multiprocessing as mp, select, socket, ssl, sys, time

def client_hello():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()

def bystander(port, seconds, q, go):
    s = socket.create_connection(("127.0.0.1", port))
    go.wait()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    rtts, end, i = [], time.time() + seconds, 0
    while time.time() < end:
        i += 1
        t0 = time.perf_counter()
        s.sendall(b"PING %d\n" % i)
        while True:
            line = f.readline()
            if not line:
                q.put(("closed", rtts)); return
            if line.startswith(b"PONG"):
                break
        rtts.append(time.perf_counter() - t0)
        time.sleep(0.005)
    q.put(("ok", rtts))

def flood(port, n, seconds, hello, q, go):
    socks, answered, opened = {}, 0, 0
    def open_one():
        nonlocal opened
        try:
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(hello)
            socks[c.fileno()] = c
            opened += 1
        except OSError:
            time.sleep(0.001)
    while len(socks) < n:
        open_one()
    go.set()
    end = time.time() + seconds
    while time.time() < end:
        while len(socks) < n and time.time() < end:
            open_one()
        ready, _, _ = select.select(list(socks.values())[:1000], [], [], 0.05)
        for c in ready:
            socks.pop(c.fileno(), None)
            try:
                if c.recv(65536):
                    answered += 1
            except OSError:
                pass
            c.close()
    q.put((opened, answered))

if __name__ == "__main__":
    tls_port, plain_port = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    secs = float(sys.argv[4]) if len(sys.argv) > 4 else 5
    hello = client_hello()
    q1, q2, go = mp.Queue(), mp.Queue(), mp.Event()
    b = mp.Process(target=bystander, args=(plain_port, secs, q1, go))
    f = mp.Process(target=flood, args=(tls_port, n, secs, hello, q2, go))
    b.start(); f.start()
    status, rtts = q1.get(); opened, answered = q2.get()
    b.join(); f.join()
    rtts.sort()
    ms = lambda x: "%.2f ms" % (x * 1000)
    print("ClientHello %d bytes; flood kept %d in flight: %d connections opened, %d answered (ServerHello), %.0f handshakes/s"
          % (len(hello), n, opened, answered, answered / secs))
    print("bystander (%s): %d round trips, p50 %s, p99 %s, max %s" % (status, len(rtts), ms(rtts[len(rtts)//2]), ms(rtts[int(len(rtts)*0.99)]), ms(rtts[-1])))
