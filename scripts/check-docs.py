#!/usr/bin/env python3
"""Compiles the C++ in README.md and docs/ so examples never rot.

Every ```cpp block is checked with -std=c++20 -fsyntax-only -Wall -Wextra -Werror. The
line before the fence may hold a marker:

  <!-- check: synopsis -->          declarations shown for reading (signatures): skipped
  <!-- check: fragment(PARAMS) -->  a fragment: all fragments of one file form one
                                    translation unit, after docs/check/prelude.hpp, each
                                    inside `asio::awaitable<void> doc_fragment_N(PARAMS)`;
                                    a leading paragraph starting with struct, class, enum,
                                    template, namespace, using, #include or BOOST_ goes to
                                    namespace scope instead
  <!-- check: fragment(PARAMS)      the same, with hidden set-up: the lines up to "-->"
  struct order { ... };             go to namespace scope before the fragment (what the
  -->                               reader need not see)
  (no marker)                       a complete translation unit, compiled alone

Errors point at the Markdown file and line (#line directives). Relative links are
checked too: the file must exist, and an anchor must name a heading of the Markdown file
it points into (GitHub's rule for heading anchors).

  scripts/check-docs.py [--cxx g++] [--jobs N] [-I DIR ...] [FILE.md ...]

Without files: README.md and every docs/**/*.md. Exit 0 when everything compiles.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = re.compile(r"^\s*<!--\s*check:\s*(synopsis|fragment\((.*)\))\s*(-->)?\s*$")
DECL_START = re.compile(r"^(struct|class|enum|template|namespace|using|#include|BOOST_)")


class Block:
    def __init__(self, path, line, kind, params, lines, setup=None, setup_line=0):
        self.path, self.line, self.kind, self.params, self.lines = path, line, kind, params, lines
        self.setup, self.setup_line = setup or [], setup_line


def blocks_of(path):
    """Yields the ```cpp blocks of one Markdown file, with their kind."""
    with open(path, encoding="utf-8") as f:
        text = f.read().split("\n")
    i = 0
    while i < len(text):
        fence = re.match(r"^(\s*)(```+|~~~+)\s*([^\s`]*)", text[i])
        if not fence:
            i += 1
            continue
        indent, ticks, lang = fence.group(1), fence.group(2), fence.group(3).lower()
        start = i
        j = i + 1
        # A closing fence: the same character, at least as many, and nothing after it.
        while j < len(text) and not (text[j].strip().startswith(ticks) and
                                     text[j].strip() == text[j].strip()[0] * len(text[j].strip())):
            j += 1
        if j == len(text):
            raise SystemExit(f"{path}:{start + 1}: unterminated code fence")
        if lang in ("cpp", "c++", "cxx", "cc"):
            body = [l[len(indent):] if l.startswith(indent) else l for l in text[start + 1:j]]
            k = start - 1
            while k >= 0 and not text[k].strip():
                k -= 1
            # A marker may span lines: the lines after its first, up to "-->", are hidden
            # namespace-scope set-up for the fragment (declarations the reader need not see).
            setup, setup_line = [], 0
            if k >= 0 and text[k].strip() == "-->":
                top = k
                while top >= 0 and not text[top].lstrip().startswith("<!--"):
                    top -= 1
                if top >= 0 and MARKER.match(text[top]) and not text[top].rstrip().endswith("-->"):
                    setup, setup_line = text[top + 1:k], top + 2
                    k = top
            m = MARKER.match(text[k]) if k >= 0 else None
            if m and not m.group(3) and not setup:
                raise SystemExit(f"{path}:{k + 1}: unterminated check marker")
            if m and m.group(1) == "synopsis":
                kind, params = "synopsis", None
            elif m:
                kind, params = "fragment", m.group(2).strip()
            elif k >= 0 and "check:" in text[k] and text[k].lstrip().startswith("<!--"):
                raise SystemExit(f"{path}:{k + 1}: unknown check marker: {text[k].strip()}")
            else:
                kind, params = "program", None
            if setup and kind != "fragment":
                raise SystemExit(f"{path}:{k + 1}: only a fragment takes hidden set-up lines")
            yield Block(path, start + 2, kind, params, body, setup, setup_line)
        i = j + 1


def github_anchor(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"`|\*\*|\*", "", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text only
    return "".join(c for c in text if c.isalnum() or c in " -_").replace(" ", "-")


def anchors_of(path, cache={}):
    if path not in cache:
        seen, found, fence = {}, set(), False
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.lstrip().startswith(("```", "~~~")):
                    fence = not fence
                m = None if fence else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
                if m:
                    a = github_anchor(m.group(1))
                    n = seen.get(a, 0)
                    seen[a] = n + 1
                    found.add(a if n == 0 else f"{a}-{n}")
        cache[path] = found
    return cache[path]


def check_links(path):
    """Broken relative links of one Markdown file: (line, message)."""
    problems, fence = [], False
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        if fence:
            continue
        for target in re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`]*`", "", line)):
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(dest):
                problems.append((number, f"link to a missing file: {target}"))
            elif anchor and dest.endswith(".md") and anchor not in anchors_of(dest):
                problems.append((number, f"link to a missing heading: {target}"))
    return problems


def line_directive(block, offset, base=None):
    rel = os.path.relpath(block.path, ROOT)
    return f'#line {(block.line if base is None else base) + offset} "{rel}"'


def fragment_unit(blocks):
    """One translation unit holding every fragment of one file, in order."""
    out = ['#include "prelude.hpp"']
    for n, b in enumerate(blocks):
        lines = b.lines
        if b.setup:
            out.append(line_directive(b, 0, b.setup_line))
            out.extend(b.setup)
        decl_end = 0
        if lines and DECL_START.match(lines[0]):
            decl_end = next((i for i, l in enumerate(lines) if not l.strip()), len(lines))
            out.append(line_directive(b, 0))
            out.extend(lines[:decl_end])
        out.append(f"asio::awaitable<void> doc_fragment_{n}({b.params}) {{")
        out.append(line_directive(b, decl_end))
        out.extend(lines[decl_end:])
        out.append("co_return;\n}")
    return "\n".join(out) + "\n"


def program_unit(block):
    return line_directive(block, 0) + "\n" + "\n".join(block.lines) + "\n"


def default_includes():
    dirs = [os.path.join(ROOT, "include")]
    try:
        dirs.append(subprocess.run(["pg_config", "--includedir"], capture_output=True, text=True,
                                   check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        dirs.append("/usr/include/postgresql")
    return dirs


def main():
    ap = argparse.ArgumentParser(description="Compile the C++ blocks of README.md and docs/.")
    ap.add_argument("files", nargs="*")
    ap.add_argument("--cxx", default=os.environ.get("CXX", "g++"))
    ap.add_argument("--cmake", default="cmake")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("-I", dest="includes", action="append", default=[])
    args = ap.parse_args()

    files = args.files
    if not files:
        files = [os.path.join(ROOT, "README.md")]
        for d, _, names in sorted(os.walk(os.path.join(ROOT, "docs"))):
            files += [os.path.join(d, n) for n in sorted(names) if n.endswith(".md")]
    files = [os.path.abspath(f) for f in files]

    units, counts = [], {"program": 0, "fragment": 0, "synopsis": 0}
    include_only = []  # programs that only include headers: one unit for all of them
    broken = 0
    for path in files:
        for number, message in check_links(path):
            broken += 1
            print(f"{os.path.relpath(path, ROOT)}:{number}: {message}", file=sys.stderr)
    for path in files:
        frags = []
        for b in blocks_of(path):
            counts[b.kind] += 1
            code = [l.split("//")[0].strip() for l in b.lines]
            if b.kind == "program" and all(not c or c.startswith("#include") for c in code):
                include_only.append(b)
            elif b.kind == "program":
                units.append((f"{os.path.relpath(path, ROOT)}:{b.line - 1}", program_unit(b)))
            elif b.kind == "fragment":
                frags.append(b)
        if frags:
            units.append((f"{os.path.relpath(path, ROOT)} (fragments)", fragment_unit(frags)))

    if include_only:
        units.append(("include lines", "".join(program_unit(b) for b in include_only)))

    # pgcoro's headers, then what the caller found (CTest passes CMake's Boost, libpq and
    # OpenSSL directories), else libpq's from pg_config.
    includes = [os.path.join(ROOT, "include")] + (args.includes or default_includes()[1:])
    # -Wno-subobject-linkage: the #line directives make g++ take the fragments' code for a
    # header's, and it then warns that a lambda of theirs has no linkage. -Wno-unused-*: an
    # example may name a value only to show its type.
    gcc = "clang" not in os.path.basename(args.cxx)
    flags = ["-std=c++20", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
             *(["-Wno-subobject-linkage"] if gcc else []), "-Wno-unused-variable", "-Wno-unused-but-set-variable", "-Wno-unused-parameter",
             "-Wno-unused-function",
             "-I", os.path.join(ROOT, "docs", "check")]
    for d in includes:
        flags += ["-I", d]

    work = tempfile.mkdtemp(prefix="pgcoro-docs-")
    try:
        # "embedded_migrations.hpp" in examples is the real generated header: the reference
        # schema (migrations/, migrations/seeds/) through pgcoro_embed_migrations()'s script.
        subprocess.run([args.cmake, f"-DSOURCE={ROOT}/migrations", f"-DSEEDS_DIR={ROOT}/migrations/seeds",
                        "-DNAMESPACE=embedded_migrations", f"-DOUT={work}/embedded_migrations.hpp",
                        "-P", os.path.join(ROOT, "cmake", "pgcoro_embed_script.cmake")], check=True)
        flags += ["-I", work]
        # The fragments' prelude, precompiled once (each unit then costs about half).
        with open(os.path.join(work, "prelude.hpp"), "w", encoding="utf-8") as f:
            f.write(f'#include "{os.path.join(ROOT, "docs", "check", "prelude.hpp")}"\n')
        pch = subprocess.run([args.cxx, *[f for f in flags if f != "-fsyntax-only"], "-x", "c++-header",
                              os.path.join(work, "prelude.hpp"), "-o", os.path.join(work, "prelude.hpp.gch")],
                             capture_output=True, text=True)
        if pch.returncode != 0:
            print(f"check-docs: the prelude does not compile:\n{pch.stdout}{pch.stderr}", file=sys.stderr)
            return 1
        flags = ["-I", work, *flags, "-Winvalid-pch"]

        def compile_unit(n, name, source):
            src = os.path.join(work, f"unit{n}.cpp")
            with open(src, "w", encoding="utf-8") as f:
                f.write(source)
            r = subprocess.run([args.cxx, *flags, src], capture_output=True, text=True)
            return name, r.returncode, r.stdout + r.stderr

        failed = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            jobs = [pool.submit(compile_unit, n, name, src) for n, (name, src) in enumerate(units)]
            for job in jobs:
                name, rc, output = job.result()
                if rc != 0:
                    failed += 1
                    print(f"FAILED: {name}\n{output}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"check-docs: {len(files)} files; {counts['program']} programs and {counts['fragment']} "
          f"fragments compiled in {len(units)} units ({failed} failed); "
          f"{counts['synopsis']} synopses not compiled; {broken} broken links")
    return 1 if failed or broken else 0


if __name__ == "__main__":
    sys.exit(main())
