"""Repository rule wrapping Debian's system libraries as cc_library targets.

When Bazel fetches the repository it runs `pkg-config --libs --cflags` for each entry and writes one
cc_library per target name. Entries starting with "-" are literal flags (for libraries that ship no
.pc file). Non-standard include directories are symlinked into the repository so that the sandbox
sees them as declared inputs.
"""

def _split(s):
    return [t for t in s.strip().split(" ") if t]

def _impl(rctx):
    pkgcfg = rctx.which("pkg-config")
    if pkgcfg == None:
        fail("pkg-config not found: apt-get install pkg-config")
    build = ['package(default_visibility = ["//visibility:public"])', ""]
    inc_dirs = {}
    for target, spec in rctx.attr.libs.items():
        if spec.startswith("-"):
            flags = _split(spec)
        else:
            res = rctx.execute([pkgcfg, "--libs", "--cflags"] + _split(spec))
            if res.return_code != 0:
                fail("pkg-config %s failed: %s" % (spec, res.stderr))
            flags = _split(res.stdout)
        linkopts, defines, includes, hdr_globs = [], [], [], []
        for f in flags:
            if f.startswith("-D"):
                if f[2:] not in defines:
                    defines.append(f[2:])
            elif f.startswith("-I"):
                d = f[2:]
                if d in ("/usr/include", "/usr/local/include"):
                    continue
                if d not in inc_dirs:
                    link = "inc%d" % len(inc_dirs)
                    rctx.symlink(d, link)
                    inc_dirs[d] = link
                includes.append(inc_dirs[d])
                hdr_globs.append(inc_dirs[d] + "/**")
            elif f not in linkopts:
                linkopts.append(f)
        build.append("cc_library(")
        build.append("    name = %r," % target)
        if hdr_globs:
            build.append("    hdrs = glob(%r)," % hdr_globs)
            build.append("    includes = %r," % includes)
        if defines:
            build.append("    defines = %r," % defines)
        build.append("    linkopts = %r," % linkopts)
        build.append(")")
        build.append("")
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.name)
    rctx.file("BUILD.bazel", "\n".join(build))

system_libs = repository_rule(
    implementation = _impl,
    attrs = {"libs": attr.string_dict(mandatory = True)},
    local = True,
    configure = True,
    environ = ["PKG_CONFIG_PATH"],
)
