#!/usr/bin/python3
"""A tiny STS stand-in on 127.0.0.1 for sts.c's own unit test (test_sts.c).

Plain HTTP on 127.0.0.1:<free port> (HTTPS with "--tls CERT KEY").  Prints "PORT <n>" first, then one JSON
line per request received: method, path, headers (in order), body, and
"sig": whether the Authorization header verifies with botocore's SigV4
signer (an independent implementation) for the fixed test keys below.

The reply depends on the RoleSessionName in the form body:
    mode-error   500 with an STS ErrorResponse (AccessDenied)
    mode-big     200 with a body larger than STS_RESP_MAX (70000 bytes)
    mode-hang    never answers (holds the connection open)
    anything else, and GetSessionToken: 200 with fixed credentials.

The full, signature-enforcing stand-in is tests/lib/sts_standin.py.
"""
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AKID = "AKIDMINISTSTEST00001"
SECRET = "mini/sts+secret=key/0123456789abcdefghij"
TOKEN = "FwoGZXIvYXdzEMiniStsToken+/=="

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
ASSUME_OK = f"""<AssumeRoleResponse xmlns="{NS}">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROAMINISTS000000001:sess-1</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/sess-1</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAMINISTSRESULT001</AccessKeyId>
      <SecretAccessKey>resultSecret/0123456789+abcdefghijklmnop</SecretAccessKey>
      <SessionToken>{TOKEN}</SessionToken>
      <Expiration>2031-01-02T03:04:05Z</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>11111111-2222-3333-4444-555555555555</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
"""
SESSION_OK = f"""<GetSessionTokenResponse xmlns="{NS}">
  <GetSessionTokenResult>
    <Credentials>
      <AccessKeyId>ASIAMINISTSRESULT002</AccessKeyId>
      <SecretAccessKey>resultSecret/0123456789+abcdefghijklmnop</SecretAccessKey>
      <SessionToken>{TOKEN}</SessionToken>
      <Expiration>2031-01-02T03:04:05Z</Expiration>
    </Credentials>
  </GetSessionTokenResult>
  <ResponseMetadata>
    <RequestId>22222222-2222-3333-4444-555555555555</RequestId>
  </ResponseMetadata>
</GetSessionTokenResponse>
"""
ERROR = f"""<ErrorResponse xmlns="{NS}">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User is not authorized to perform: sts:AssumeRole</Message>
  </Error>
  <RequestId>33333333-2222-3333-4444-555555555555</RequestId>
</ErrorResponse>
"""

out_lock = threading.Lock()


def check_sig(method, host, headers, body):
    """Recompute the signature with botocore for the headers libcurl signed."""
    try:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
    except ImportError:
        return None
    auth = {k.lower(): v for k, v in headers}.get("authorization", "")
    try:
        fields = dict(p.strip().split("=", 1) for p in auth.split(" ", 1)[1].split(","))
        scope = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
    except (IndexError, KeyError, ValueError):
        return False
    lower = {}
    for k, v in headers:
        lower.setdefault(k.lower(), v)
    hdrs = {h: lower.get(h, "") for h in signed}
    token = lower.get("x-amz-security-token")
    creds = Credentials(AKID, SECRET, token)
    req = AWSRequest(method=method, url=f"http://{host}/", data=body, headers=hdrs)
    req.context["timestamp"] = lower.get("x-amz-date", "")
    signer = SigV4Auth(creds, scope[3], scope[2])
    canonical = signer.canonical_request(req)
    sts = signer.string_to_sign(req, canonical)
    return signer.signature(sts, req) == fields.get("Signature") and scope[0] == AKID


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        headers = list(self.headers.items())
        host = self.headers.get("Host", "")
        rec = {
            "method": self.command,
            "path": self.path,
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
            "sig": check_sig(self.command, host, headers, body),
        }
        with out_lock:
            sys.stdout.write(json.dumps(rec) + "\n")
            sys.stdout.flush()
        form = urllib.parse.parse_qs(body.decode("ascii", "replace"))
        session = form.get("RoleSessionName", [""])[0]
        action = form.get("Action", [""])[0]
        status, reply = 200, ASSUME_OK
        if session == "mode-hang":
            time.sleep(3600)
            return
        if session == "mode-error":
            status, reply = 500, ERROR
        elif session == "mode-big":
            reply = ASSUME_OK + " " * 70000
        elif action == "GetSessionToken":
            reply = SESSION_OK
        data = reply.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        # mini_sts.py --tls CERT KEY: HTTPS instead of plain HTTP
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    sys.stdout.write(f"PORT {srv.server_address[1]}\n")
    sys.stdout.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
