"""An lnmuxd client as a backend would write it, from lnmuxd's .proto unchanged (proto/lnmux/lnmux.proto).

Run by test/api/python-client.test.ts against `lnmux run` in hold mode over the simulator:

    python3 lnmuxd_client.py <lnmux.proto> <host:port> [<tls.cert> <admin.macaroon>]

With a certificate and a macaroon it connects as LND's Python clients do: TLS trusting that certificate
(ssl_channel_credentials), the macaroon's hex in the `macaroon` metadata of every call
(metadata_call_credentials); without them, in plaintext without credentials (api.insecurePlaintext).

It generates its stubs with grpc_tools.protoc into a temporary folder, then: GetInfo; AddInvoice; prints
the payment request as a JSON line ({"event": "invoice", ...}) and waits for a line "paying" on stdin
(the test pays it through the simulator's payer); receives the set on SubscribeInvoiceAccepted;
SettleInvoice (twice: idempotent); CancelInvoice after it (FAILED_PRECONDITION); WaitForInvoiceFinalStatus
(SETTLED); ListInvoices (hash and preimage in their places). Each step prints a JSON line; any failure
exits non-zero with the reason on stderr.
"""
import hashlib
import json
import os
import queue
import sys
import tempfile
import threading


def say(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def fail(message):
    print(f"lnmuxd_client: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def generate_stubs(proto_path, out_dir):
    from grpc_tools import protoc

    proto_dir, proto_file = os.path.split(os.path.abspath(proto_path))
    code = protoc.main(["grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", proto_file])
    if code != 0:
        fail(f"protoc failed with {code}")
    sys.path.insert(0, out_dir)


def open_channel(grpc, address, cert_path, macaroon_path):
    if cert_path is None:
        return grpc.insecure_channel(address)
    with open(cert_path, "rb") as f:
        cert = f.read()
    with open(macaroon_path, "rb") as f:
        macaroon = f.read().hex()

    def add_macaroon(context, callback):
        callback([("macaroon", macaroon)], None)

    credentials = grpc.composite_channel_credentials(
        grpc.ssl_channel_credentials(root_certificates=cert),
        grpc.metadata_call_credentials(add_macaroon),
    )
    return grpc.secure_channel(address, credentials)


def main():
    proto_path, address = sys.argv[1], sys.argv[2]
    cert_path, macaroon_path = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else (None, None)
    import grpc

    with tempfile.TemporaryDirectory() as out_dir:
        generate_stubs(proto_path, out_dir)
        import lnmux_pb2 as pb
        import lnmux_pb2_grpc as pb_grpc

        channel = open_channel(grpc, address, cert_path, macaroon_path)
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = pb_grpc.ServiceStub(channel)

        info = stub.GetInfo(pb.GetInfoRequest(), timeout=10)
        if info.auto_settle:
            fail("expected hold mode (auto_settle false)")
        if len(info.pub_key) != 33:
            fail(f"pub_key: expected 33 bytes, got {len(info.pub_key)}")
        say("info", pub_key=info.pub_key.hex(), network=info.network, nodes=[n.pub_key.hex() for n in info.nodes])

        # Subscribe before the payment: the stream also replays sets accepted before it opened.
        accepted = queue.Queue()
        stream = stub.SubscribeInvoiceAccepted(pb.SubscribeInvoiceAcceptedRequest())

        def read_stream():
            try:
                for message in stream:
                    accepted.put(message)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.CANCELLED:
                    accepted.put(error)

        threading.Thread(target=read_stream, daemon=True).start()

        invoice = stub.AddInvoice(pb.AddInvoiceRequest(amt_msat=120_000_000, description="python lnmuxd client", expiry_secs=600), timeout=10)
        if hashlib.sha256(invoice.preimage).digest() != invoice.hash:
            fail("AddInvoice: sha256(preimage) is not hash")
        say("invoice", payment_request=invoice.payment_request, hash=invoice.hash.hex())

        line = sys.stdin.readline().strip()
        if line != "paying":
            fail(f"expected 'paying' on stdin, got {line!r}")

        while True:
            try:
                message = accepted.get(timeout=30)
            except queue.Empty:
                fail("no accepted set within 30 s")
            if isinstance(message, Exception):
                fail(f"SubscribeInvoiceAccepted failed: {message}")
            if message.hash == invoice.hash:
                break
        say("accepted", hash=message.hash.hex(), set_id=message.set_id.hex())

        settle = pb.SettleInvoiceRequest(hash=invoice.hash, set_id=message.set_id)
        stub.SettleInvoice(settle, timeout=30)
        stub.SettleInvoice(settle, timeout=30)  # idempotent
        say("settled")

        try:
            stub.CancelInvoice(pb.CancelInvoiceRequest(hash=invoice.hash, set_id=message.set_id), timeout=10)
            fail("CancelInvoice after SettleInvoice: expected FAILED_PRECONDITION, got OK")
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
                fail(f"CancelInvoice after SettleInvoice: expected FAILED_PRECONDITION, got {error.code()}")

        final = stub.WaitForInvoiceFinalStatus(pb.WaitForInvoiceFinalStatusRequest(hash=invoice.hash), timeout=30)
        status = pb.InvoiceStatus.Name(final.invoice_status)
        say("final", status=status)
        if status != "SETTLED":
            fail(f"WaitForInvoiceFinalStatus: expected SETTLED, got {status}")

        listed = stub.ListInvoices(pb.ListInvoicesRequest(max_invoices_count=100, sequence_start=0), timeout=10)
        mine = [i for i in listed.invoice if i.hash == invoice.hash]
        if len(mine) != 1 or mine[0].preimage != invoice.preimage or pb.InvoiceStatus.Name(mine[0].status) != "SETTLED":
            fail(f"ListInvoices: expected the invoice SETTLED with its preimage, got {listed}")
        if mine[0].amount_msat != 120_000_000:
            fail(f"ListInvoices: amount_msat {mine[0].amount_msat}")
        say("listed", sequence_number=mine[0].sequence_number, status=pb.InvoiceStatus.Name(mine[0].status))

        stream.cancel()
        channel.close()
        say("done")


if __name__ == "__main__":
    main()
