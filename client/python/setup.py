"""Build hook of the iterd client: generates the protobuf/gRPC modules at build time.

The modules are generated from ../../proto/iterd/v1/*.proto straight into the build tree
(build/lib/iterd/v1/), so that their own `from iterd.v1 import tensor_pb2` imports resolve inside
the installed package and nothing generated is ever committed.
"""
import glob
import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

_HERE = os.path.dirname(os.path.abspath(__file__))
_PROTO_ROOT = os.path.normpath(os.path.join(_HERE, "..", "..", "proto"))
_GRPC_PLUGIN = os.environ.get("ITERD_GRPC_PYTHON_PLUGIN", "/usr/bin/grpc_python_plugin")
_PROTOC = os.environ.get("ITERD_PROTOC", "protoc")


def generate_protos(output_root):
    """Runs protoc on every iterd/v1 proto, writing iterd/v1/*_pb2{,_grpc}.py under output_root."""
    protos = sorted(glob.glob(os.path.join(_PROTO_ROOT, "iterd", "v1", "*.proto")))
    if not protos:
        raise RuntimeError("no .proto files under %s/iterd/v1" % _PROTO_ROOT)
    os.makedirs(os.path.join(output_root, "iterd", "v1"), exist_ok=True)
    command = [
        _PROTOC,
        "-I" + _PROTO_ROOT,
        "--python_out=" + output_root,
        "--grpc_python_out=" + output_root,
        "--plugin=protoc-gen-grpc_python=" + _GRPC_PLUGIN,
    ] + protos
    subprocess.check_call(command)


class BuildPyWithProtos(build_py):
    """build_py that also generates the protocol modules into build_lib."""

    def run(self):
        super().run()
        generate_protos(self.build_lib)


setup(cmdclass={"build_py": BuildPyWithProtos})
