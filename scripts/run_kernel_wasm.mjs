#!/usr/bin/env node
// Run a Python scenario against the krystal kernel under a WebAssembly Python in Node.js.
//
//   node scripts/run_kernel_wasm.mjs <micropython|pyodide> <kernel_dir> <scenario.py>
//
// Every *.py under <kernel_dir> (recursively, __pycache__ skipped) is copied into the
// runtime's virtual file system as the package `kernel` in a directory that is put first
// on sys.path, then <scenario.py> is run as __main__. What the scenario prints goes to
// stdout; anything it writes to stderr goes to stderr. If loading or running fails, the
// Python traceback (or the JS error) goes to stderr and the exit status is 1. Usage
// errors exit with 2. Nothing is fetched from the network: MicroPython is a single wasm
// file and Pyodide loads its runtime and standard library from the npm package itself.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const RUNTIMES = ["micropython", "pyodide"];
const MOUNT = "/krystal_portability";
const MICROPYTHON_HEAP = 128 * 1024 * 1024;
const MICROPYTHON_PYSTACK = 64 * 1024;

function usage(message) {
  process.stderr.write(
    (message ? message + "\n" : "") +
      "usage: node scripts/run_kernel_wasm.mjs <" +
      RUNTIMES.join("|") +
      "> <kernel_dir> <scenario.py>\n",
  );
  process.exit(2);
}

/** Collect [relativePath, contents] for every .py file under dir. */
function collectPython(dir, prefix = "") {
  const files = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === "__pycache__" || name.startsWith(".")) continue;
    const full = path.join(dir, name);
    const rel = prefix ? prefix + "/" + name : name;
    const info = statSync(full);
    if (info.isDirectory()) {
      files.push(...collectPython(full, rel));
    } else if (info.isFile() && name.endsWith(".py")) {
      files.push([rel, readFileSync(full, "utf8")]);
    }
  }
  return files;
}

/** mkdir -p on an Emscripten FS (works for both runtimes). */
function mkdirs(FS, dir) {
  let current = "";
  for (const part of dir.split("/").filter(Boolean)) {
    current += "/" + part;
    try {
      FS.mkdir(current);
    } catch (err) {
      // EEXIST: already there.
      if (!FS.analyzePath(current).exists) throw err;
    }
  }
}

function installKernel(FS, kernelFiles) {
  const root = MOUNT + "/kernel";
  mkdirs(FS, root);
  for (const [rel, text] of kernelFiles) {
    const target = root + "/" + rel;
    mkdirs(FS, path.posix.dirname(target));
    FS.writeFile(target, text);
  }
  if (!kernelFiles.some(([rel]) => rel === "__init__.py")) {
    FS.writeFile(root + "/__init__.py", "");
  }
}

// Prelude run before the scenario: put the mounted package first on sys.path.
const PRELUDE = "import sys\nsys.path.insert(0, '" + MOUNT + "')\n";

function makeSink(stream) {
  // MicroPython with linebuffer calls back once per line (without the newline).
  return (line) => stream.push(line + "\n");
}

async function runMicroPython(kernelFiles, scenario, out, err) {
  const { loadMicroPython } = await import("@micropython/micropython-webassembly-pyscript");
  const mp = await loadMicroPython({
    heapsize: MICROPYTHON_HEAP,
    pystack: MICROPYTHON_PYSTACK,
    linebuffer: true,
    stdout: makeSink(out),
    stderr: makeSink(err),
  });
  installKernel(mp.FS, kernelFiles);
  mp.runPython(PRELUDE);
  try {
    // runPython executes in __main__'s globals, so `if __name__ == "__main__":` holds.
    mp.runPython(scenario.text);
  } finally {
    // With linebuffer the last line is only passed on at a newline: flush what is left.
    const module = mp._module;
    for (const [buffer, sink] of [
      ["_stdoutBuffer", out],
      ["_stderrBuffer", err],
    ]) {
      if (module[buffer] && module[buffer].length) {
        sink.push(module._textDecoder.decode(new Uint8Array(module[buffer])));
        module[buffer] = [];
      }
    }
  }
}

async function runPyodide(kernelFiles, scenario, out, err) {
  const require = createRequire(import.meta.url);
  const indexURL = path.dirname(require.resolve("pyodide/package.json")) + path.sep;
  const { loadPyodide } = await import("pyodide");
  const py = await loadPyodide({
    indexURL,
    packageCacheDir: indexURL,
    stdout: (line) => out.push(line + "\n"),
    stderr: (line) => err.push(line + "\n"),
  });
  // Raw byte writers: unlike the line callbacks they also pass on a last partial line.
  for (const [setter, sink] of [
    ["setStdout", out],
    ["setStderr", err],
  ]) {
    const decoder = new TextDecoder();
    py[setter]({
      write(buffer) {
        sink.push(decoder.decode(buffer, { stream: true }));
        return buffer.length;
      },
    });
  }
  installKernel(py.FS, kernelFiles);
  const scenarioPath = MOUNT + "/" + path.basename(scenario.path);
  py.FS.writeFile(scenarioPath, scenario.text);
  py.runPython(PRELUDE);
  // runpy gives a real __main__ module and tracebacks that name the scenario's lines.
  py.globals.set("_krystal_scenario_path", scenarioPath);
  py.runPython(
    "import runpy, sys\n" +
      "try:\n" +
      "    runpy.run_path(_krystal_scenario_path, run_name='__main__')\n" +
      "finally:\n" +
      "    sys.stdout.flush()\n" +
      "    sys.stderr.flush()\n",
  );
}

async function main() {
  const [runtime, kernelDir, scenarioFile] = process.argv.slice(2);
  if (!RUNTIMES.includes(runtime) || !kernelDir || !scenarioFile) usage();
  let kernelFiles;
  let scenario;
  try {
    kernelFiles = collectPython(path.resolve(kernelDir));
    scenario = { path: path.resolve(scenarioFile), text: readFileSync(scenarioFile, "utf8") };
  } catch (e) {
    usage(String(e && e.message ? e.message : e));
  }
  if (kernelFiles.length === 0) usage("no *.py files in " + kernelDir);

  const out = [];
  const err = [];
  let status = 0;
  try {
    if (runtime === "micropython") {
      await runMicroPython(kernelFiles, scenario, out, err);
    } else {
      await runPyodide(kernelFiles, scenario, out, err);
    }
  } catch (e) {
    status = 1;
    const message = e && e.message ? e.message : String(e);
    const kind = e && e.constructor ? e.constructor.name : "Error";
    // PythonError's message is the Python traceback; other errors get their JS stack.
    err.push(
      kind === "PythonError"
        ? message.replace(/\n?$/, "\n")
        : (e && e.stack ? e.stack : message) + "\n",
    );
    err.push(runtime + ": scenario " + scenarioFile + " failed\n");
  }
  process.stdout.write(out.join(""));
  process.stderr.write(err.join(""));
  process.exitCode = status;
}

await main();
