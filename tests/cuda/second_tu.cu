// A second translation unit of the GPU test that includes sampler.cuh and launches through
// it: a program with several .cu files using the sampler must link (the kernel is a template,
// everything else inline).
#include "llmscale/cuda/sampler.cuh"

// An uninitialised backend refuses to launch, with an error value.
bool uninitialised_backend_refuses() {
  llmscale::CudaBackend backend;
  const llmscale::SamplerError e = backend.launch(0, 1);
  llmscale::GraphBatchKvSampler graph;
  return static_cast<bool>(e) && static_cast<bool>(graph.enqueue(nullptr));
}
