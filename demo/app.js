// The demo page: loads an export's manifest and TFLite generator with LiteRT.js, and draws a
// 4×4 grid of generated images; a picker switches between the exports the server offers (one per
// dataset by default). window.fashiongan is a small hook for tests and for embedding.
import { Tensor, loadAndCompile, loadLiteRt } from "./vendor/litertjs-core/index.js";

const MODEL_URL = "./model/"; // + <generator name>/<file>
const SPEC_URL = "./spec.json"; // the generators served and the TFLite artifact names, from the server
const WASM_LOADER = "./vendor/litertjs-core/wasm/litert_wasm_compat_internal.js";
const GRID_SIDE = 4;
const TILE = 28;
const GAP = 1;

const elements = Object.fromEntries(
  ["controls", "dataset-field", "dataset", "seed", "class-field", "class", "generate", "grid", "status", "error"].map((id) => [
    id,
    document.getElementById(id),
  ]),
);

// A seeded standard-normal stream (mulberry32 + Box–Muller): the same seed gives the same grid
// in every browser. It is not numpy's stream, so seeds do not match `fashiongan sample`'s.
function normalStream(seed) {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

function showError(message) {
  elements.error.textContent = message;
  elements.error.style.display = "block";
  elements.status.textContent = "";
  elements.generate.disabled = true;
  document.body.dataset.state = "error";
}

function clearError() {
  elements.error.textContent = "";
  elements.error.style.display = "none";
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  return response;
}

let liteRtLoaded = null;

async function loadGenerator(name, tfliteArtifacts) {
  const folder = `${MODEL_URL}${encodeURIComponent(name)}/`;
  const manifest = await (await fetchOk(`${folder}manifest.json`)).json();
  const artifact = tfliteArtifacts.find((artifactName) => manifest.artifacts && manifest.artifacts[artifactName]);
  if (!artifact) throw new Error("the export has no float TFLite generator (export it with --formats tflite --tflite-quant none)");
  const path = manifest.artifacts[artifact].path;
  const bytes = new Uint8Array(await (await fetchOk(`${folder}${path}`)).arrayBuffer());
  liteRtLoaded ??= loadLiteRt(WASM_LOADER).catch((error) => {
    liteRtLoaded = null; // a later choice tries again
    throw error;
  });
  await liteRtLoaded;
  let model;
  try {
    model = await loadAndCompile(bytes, { accelerator: "wasm" });
  } catch (error) {
    throw new Error(`${path} is not a loadable TFLite model (${error.message || error})`);
  }
  return { name, manifest, model, path };
}

// Runs the batch-1 generator once; returns float32 pixels (28×28) in [0, 1].
async function runOne(generator, noise, label) {
  const inputs = { noise: new Tensor(Float32Array.from(noise), [1, generator.manifest.latent_dim]) };
  if (generator.manifest.conditional) inputs.label = new Tensor(Int32Array.from([label]), [1]);
  const outputs = await generator.model.run(inputs);
  const pixels = Float32Array.from(outputs.images.toTypedArray());
  Object.values(inputs).forEach((tensor) => tensor.delete());
  Object.values(outputs).forEach((tensor) => tensor.delete());
  return pixels;
}

function drawTile(context, pixels, index) {
  const image = context.createImageData(TILE, TILE);
  for (let i = 0; i < TILE * TILE; i++) {
    const grey = Math.round(Math.min(1, Math.max(0, pixels[i])) * 255);
    image.data.set([grey, grey, grey, 255], i * 4);
  }
  const x = GAP + (index % GRID_SIDE) * (TILE + GAP);
  const y = GAP + Math.floor(index / GRID_SIDE) * (TILE + GAP);
  context.putImageData(image, x, y);
}

async function generateGrid(generator, seed, label) {
  const next = normalStream(seed);
  const context = elements.grid.getContext("2d");
  context.fillStyle = "#000";
  context.fillRect(0, 0, elements.grid.width, elements.grid.height);
  const started = performance.now();
  for (let index = 0; index < GRID_SIDE * GRID_SIDE; index++) {
    const noise = Array.from({ length: generator.manifest.latent_dim }, next);
    const tileLabel = label ?? index % (generator.manifest.class_names?.length || 1);
    drawTile(context, await runOne(generator, noise, tileLabel), index);
  }
  return performance.now() - started;
}

function setUpClassPicker(manifest) {
  elements.class.replaceChildren();
  elements["class-field"].hidden = !manifest.conditional;
  if (!manifest.conditional) return;
  elements.class.append(new Option("every class", ""));
  (manifest.class_names || []).forEach((name, index) => elements.class.append(new Option(name, String(index))));
}

function setUpDatasetPicker(names, choose) {
  names.forEach((name) => elements.dataset.append(new Option(name, name)));
  elements["dataset-field"].hidden = names.length < 2;
  elements.dataset.addEventListener("change", () => choose(elements.dataset.value));
}

async function main() {
  let spec;
  try {
    spec = await (await fetchOk(SPEC_URL)).json();
  } catch (error) {
    showError(`The model failed to load: ${error.message || error}`);
    return;
  }
  let generator = null;
  const loaded = new Map(); // name -> the loading (then loaded) generator, each loaded once
  let latestChoice = 0;
  // Both controls are off while a model loads or a grid draws, so neither races the other.
  const setBusy = (busy) => {
    elements.generate.disabled = busy || generator === null;
    elements.dataset.disabled = busy;
  };
  // Loads the named generator and makes it the page's (the last choice wins); a failure shows
  // the reason and leaves the picker usable, so another dataset can still be chosen.
  const choose = async (name) => {
    const choice = ++latestChoice;
    elements.dataset.value = name;
    generator = null;
    setBusy(true);
    document.body.dataset.state = "loading";
    elements.status.textContent = `Loading ${name}…`;
    clearError();
    if (!loaded.has(name)) loaded.set(name, loadGenerator(name, spec.tflite_artifacts));
    let chosen;
    try {
      chosen = await loaded.get(name);
    } catch (error) {
      loaded.delete(name);
      if (choice === latestChoice) {
        setBusy(false);
        showError(`The model failed to load: ${error.message || error}`);
      }
      return;
    }
    if (choice !== latestChoice) return;
    generator = chosen;
    setUpClassPicker(generator.manifest);
    window.fashiongan.manifest = generator.manifest;
    setBusy(false);
    elements.status.textContent = `Model loaded: ${generator.manifest.variant} on ${generator.manifest.dataset} (${generator.path}). Press Generate.`;
    document.body.dataset.state = "ready";
  };
  const generate = async () => {
    const current = generator;
    setBusy(true);
    const seed = Number.parseInt(elements.seed.value, 10) || 0;
    const label = elements.class.value === "" ? null : Number(elements.class.value);
    const milliseconds = await generateGrid(current, seed, label);
    elements.status.textContent = `16 images in ${milliseconds.toFixed(1)} ms (${current.path}, seed ${seed})`;
    setBusy(false);
    document.body.dataset.state = "generated";
    return milliseconds;
  };
  elements.controls.addEventListener("submit", (event) => {
    event.preventDefault();
    generate();
  });
  window.fashiongan = {
    manifest: null,
    generate,
    choose,
    // The generator's images for one given noise vector (and label): the parity hook.
    run: async (noise, label = 0) => Array.from(await runOne(generator, noise, label)),
  };
  setUpDatasetPicker(spec.generators, choose);
  await choose(spec.generators[0]);
}

main();
