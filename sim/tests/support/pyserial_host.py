"""A host on a pyserial URL (socket:// or rfc2217://), as a Python driver would open it.

    python3 pyserial_host.py URL flow   seed 000 section 6.2; prints SUBSCRIBED once it may be
                                        published to, then waits for the broker's message
    python3 pyserial_host.py URL baud   sets 9600 baud, 7 data bits, even parity, DTR on, RTS
                                        off, prints SET, and holds the port until stdin closes

Exits non-zero with what it saw when an answer does not come within 20 s.
"""
import sys
import time

import serial

url, mode = sys.argv[1], sys.argv[2]
port = serial.serial_for_url(url, baudrate=115200, timeout=0.1)


def until(needle):
    seen = b""
    deadline = time.monotonic() + 20
    while needle not in seen:
        if time.monotonic() > deadline:
            sys.exit("no %r in %r" % (needle, seen))
        seen += port.read(4096)
    return seen


def at(cmd, needle):
    port.write(cmd.encode() + b"\r\n")
    return until(needle.encode())


if mode == "flow":
    at("AT", "OK\r\n")
    at("AT+MCONFIG=868488076771714,root,luat123456", "OK\r\n")
    at('AT+MIPSTART="airtest.openluat.com","1883"', "CONNECT OK\r\n")
    at("AT+MCONNECT=1,60", "CONNACK OK\r\n")
    at('AT+MSUB="mqtt/pub",0', "SUBACK\r\n")
    at('AT+MPUB="mqtt/sub",0,0,"data from 4G module"', "OK\r\n")
    print("SUBSCRIBED", flush=True)
    out = until(b"server\r\n")
    assert out.endswith(b'\r\n+MSUB: "mqtt/pub",20 byte,data from tcp server\r\n'), out
    print("RECEIVED", flush=True)
elif mode == "baud":
    port.baudrate = 9600
    port.bytesize = serial.SEVENBITS
    port.parity = serial.PARITY_EVEN
    port.dtr = True
    port.rts = False
    print("SET", flush=True)
    sys.stdin.read()
port.close()
