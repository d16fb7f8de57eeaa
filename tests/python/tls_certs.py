"""Real X.509 certificates for the security tests, made with the `openssl` command line tool.

    ca = CertificateAuthority(directory, "ca1")
    server = ca.issue("server", common_name="iterd", sans=["IP:127.0.0.1", "DNS:localhost"])
    client = ca.issue("trainer", common_name="trainer-a", client=True)
    expired = ca.issue("old", sans=["IP:127.0.0.1"], start="20200101000000Z",
                       end="20200102000000Z")

Keys are EC P-256 (fast to make, accepted by gRPC). Leaf certificates are signed with `openssl ca`
(a minimal CA directory per authority), which can also set explicit validity dates: OpenSSL 3.0's
`x509 -req` cannot, and an expired certificate needs a start and end in the past.
"""
import os
import subprocess

_CA_CONFIG = """
[ ca ]
default_ca = iterd_test_ca

[ iterd_test_ca ]
dir = {directory}
database = $dir/index.txt
new_certs_dir = $dir/issued
serial = $dir/serial
default_md = sha256
default_days = 30
policy = any_name
unique_subject = no
copy_extensions = none
email_in_dn = no

[ any_name ]
commonName = supplied
"""

_LEAF_EXTENSIONS = """
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = {usage}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
{alt_names}
"""


def openssl(*arguments, cwd=None):
    """Runs `openssl ARGUMENTS`; its output on failure is in the exception."""
    result = subprocess.run(["openssl"] + list(arguments), cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise RuntimeError("openssl %s failed:\n%s" % (" ".join(arguments), result.stdout))
    return result.stdout


class Issued(object):
    """A certificate and its key (paths), with the CA that signed it."""

    def __init__(self, cert, key, ca):
        self.cert = cert
        self.key = key
        self.ca = ca

    def cert_pem(self):
        with open(self.cert, "rb") as f:
            return f.read()


class CertificateAuthority(object):
    """A self-signed CA in `directory/name/`; cert and key are paths of its PEM files."""

    def __init__(self, directory, name, common_name=None):
        self.name = name
        self.directory = os.path.join(str(directory), name)
        os.makedirs(os.path.join(self.directory, "issued"))
        self.cert = os.path.join(self.directory, "ca.pem")
        self.key = os.path.join(self.directory, "ca.key")
        openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", self.key, "-out",
                self.cert, "-days", "3650", "-subj", "/CN=%s" % (common_name or name + " test CA"),
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        with open(os.path.join(self.directory, "index.txt"), "w"):
            pass
        with open(os.path.join(self.directory, "serial"), "w") as f:
            f.write("1000\n")
        self._config = os.path.join(self.directory, "ca.cnf")
        with open(self._config, "w") as f:
            f.write(_CA_CONFIG.format(directory=self.directory))

    def cert_pem(self):
        with open(self.cert, "rb") as f:
            return f.read()

    def issue(self, name, common_name=None, sans=(), client=False, start=None, end=None):
        """A leaf certificate `name`.pem / `name`.key in the CA's directory.

        sans: subjectAltName entries ("IP:127.0.0.1", "DNS:localhost"); client: a client
        certificate (extendedKeyUsage clientAuth) instead of a server one; start / end: validity
        as YYYYMMDDHHMMSSZ (default: from now, 30 days)."""
        cert = os.path.join(self.directory, name + ".pem")
        key = os.path.join(self.directory, name + ".key")
        request = os.path.join(self.directory, name + ".csr")
        extensions = os.path.join(self.directory, name + ".ext")
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", key, "-out", request, "-subj",
                "/CN=%s" % (common_name or name))
        with open(extensions, "w") as f:
            f.write(_LEAF_EXTENSIONS.format(
                usage="clientAuth" if client else "serverAuth",
                alt_names="subjectAltName = %s" % ", ".join(sans) if sans else ""))
        validity = []
        if start:
            validity += ["-startdate", start]
        if end:
            validity += ["-enddate", end]
        openssl("ca", "-config", self._config, "-batch", "-notext", "-in", request, "-out", cert,
                "-cert", self.cert, "-keyfile", self.key, "-extfile", extensions,
                "-extensions", "leaf", *validity)
        os.chmod(key, 0o600)
        return Issued(cert, key, self)
