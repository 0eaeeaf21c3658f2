// The engine interface (nn/engine.h) is all a caller needs: these tests drive every backend of the build only
// through it, and check that the ref engine's epoch is, bitwise, the reference network's own steps.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "augment/augment.h"
#include "harness.h"
#include "nn/engine.h"
#include "nn/network.h"

using namespace eos;
using eos::test::check;

namespace {

struct Data {
  NetworkSpec spec;
  std::vector<uint8_t> images;
  std::vector<int32_t> labels, order;
  std::vector<float> mean{0.4f}, std{0.3f};
  EpochConfig cfg;
};

Data make_data() {
  Data d;
  d.spec.depth = 8;
  d.spec.in_channels = 1;
  d.spec.side = 10;
  d.spec.classes = 3;
  d.spec.seed = 5;
  const int64_t n = 11, image = 100;
  d.images.resize(n * image);
  for (size_t i = 0; i < d.images.size(); ++i)
    d.images[i] = static_cast<uint8_t>((i * 37 + i * i % 89) & 0xff);
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(i % 3));
  for (int64_t i = 0; i < n; ++i) d.order.push_back(static_cast<int32_t>((i * 4) % n));
  d.cfg.batch = 4;
  d.cfg.sgd = SgdConfig{0.05, 0.9, 2e-4, false};
  d.cfg.augment.channels = 1;
  d.cfg.augment.height = d.cfg.augment.width = 10;
  d.cfg.augment.pad = 2;
  d.cfg.augment.seed = 3;
  d.cfg.augment.mean = d.mean.data();
  d.cfg.augment.std = d.std.data();
  return d;
}

std::vector<float> parameters(const Engine& e) {
  std::vector<float> p(static_cast<size_t>(e.topology().parameter_count));
  e.get_parameters(p.data());
  return p;
}

}  // namespace

EOS_TEST(ref_engine_epoch_is_the_reference_network_steps) {
  Data d = make_data();
  std::unique_ptr<Engine> engine = make_engine("ref", d.spec);
  engine->set_threads(1);
  const EpochProgress p = engine->train_epoch(d.images.data(), d.labels.data(), d.order.data(),
                                              static_cast<int64_t>(d.order.size()), d.cfg, {}, {});
  // 11 rows in batches of 4: 4, 4, 3.
  check(p.batches_done == 3 && p.batches_total == 3 && p.images_done == 11, "three batches, every image");

  Network<float> net(d.spec);
  net.set_threads(1);
  std::vector<float> x(4 * 100);
  std::vector<int32_t> y(4);
  for (int64_t start = 0; start < 11; start += 4) {
    const int64_t b = std::min<int64_t>(4, 11 - start);
    augment_batch(d.images.data(), d.order.data() + start, b, d.cfg.augment, x.data());
    for (int64_t i = 0; i < b; ++i) y[i] = d.labels[d.order[start + i]];
    net.train_step(x.data(), y.data(), b, d.cfg.loss, d.cfg.sgd);
  }
  std::vector<float> expected(static_cast<size_t>(net.parameter_count()));
  net.get_parameters(expected.data());
  const std::vector<float> got = parameters(*engine);
  check(got.size() == expected.size() && std::memcmp(got.data(), expected.data(), got.size() * 4) == 0,
        "the engine's parameters after an epoch equal the network's after the same steps, bitwise");
}

// A built backend that cannot run here (cuda without a GPU) is skipped with a line saying why.
static bool usable_or_skip(const std::string& backend) {
  std::string why;
  if (backend_usable(backend, &why)) return true;
  std::printf("skip %s: %s\n", backend.c_str(), why.c_str());
  return false;
}

EOS_TEST(every_backend_through_the_interface) {
  for (const std::string& backend : built_backends()) {
    if (!usable_or_skip(backend)) continue;
    Data d = make_data();
    auto run = [&] {
      std::unique_ptr<Engine> e = make_engine(backend, d.spec);
      e->set_threads(2);
      e->train_epoch(d.images.data(), d.labels.data(), d.order.data(), 11, d.cfg, {}, {});
      return e;
    };
    std::unique_ptr<Engine> a = run(), b = run();
    check(std::string(a->name()) == backend, backend + ": make_engine gives the named backend");
    const std::vector<float> pa = parameters(*a), pb = parameters(*b);
    check(std::memcmp(pa.data(), pb.data(), pa.size() * 4) == 0, backend + ": two runs, the same bytes");
    std::vector<int64_t> tracked = a->num_batches_tracked();
    check(tracked.size() == a->topology().batchnorms.size() && tracked[0] == 3,
          backend + ": every batch norm counted three batches");

    // Predict through the interface: logits and embeddings fully written.
    std::vector<float> logits(11 * 3, -1e30f), emb(11 * Topology::kEmbeddingDim, -1e30f);
    check(a->predict(d.images.data(), nullptr, 11, 5, d.cfg.augment, logits.data(), emb.data(), {}),
          backend + ": predict completes");
    bool written = true;
    for (float v : logits) written = written && v > -1e29f;
    for (float v : emb) written = written && v > -1e29f;
    check(written, backend + ": every logit and embedding written");

    // A stop request between batches ends the epoch there; sync points round-trip.
    int polls = 0;
    const EpochProgress p = a->train_epoch(d.images.data(), d.labels.data(), d.order.data(), 11, d.cfg, {},
                                           [&polls] { return ++polls > 1; });
    check(p.batches_done == 1 && p.batches_total == 3, backend + ": stopped after one batch");
    std::vector<float> params = parameters(*a);
    b->set_parameters(params.data());
    check(parameters(*b) == params, backend + ": set_parameters then get_parameters round-trips");
    std::vector<float> w(static_cast<size_t>(3 * 64));
    check(a->read_tensor("linear.weight", w.data()) && !a->read_tensor("nope", w.data()),
          backend + ": tensors are read by PyTorch name, unknown names refused");
  }
  bool refused = false;
  try {
    make_engine("tpu", NetworkSpec{});
  } catch (const std::invalid_argument& e) {
    refused = std::string(e.what()).find("'tpu'") != std::string::npos;
  }
  check(refused, "an unknown backend is refused with its name");
}

EOS_TEST(every_backend_stops_an_epoch_at_the_first_non_finite_loss) {
  for (const std::string& backend : built_backends()) {
    if (!usable_or_skip(backend)) continue;
    Data d = make_data();
    // A learning rate this large makes the first update overflow: the second batch's loss is not finite.
    d.cfg.sgd.lr = 1e30;
    std::unique_ptr<Engine> e = make_engine(backend, d.spec);
    e->set_threads(1);
    const EpochProgress p =
        e->train_epoch(d.images.data(), d.labels.data(), d.order.data(), 11, d.cfg, {}, {});
    check(p.diverged, backend + ": the epoch says it diverged");
    check(p.batches_done == 2 && p.batches_total == 3 && p.images_done == 4,
          backend +
              ": stopped after the second batch (the first with a non-finite loss), which is not counted");
    check(std::isfinite(p.loss_sum), backend + ": the reported loss sums only the finite batches");

    Data ok = make_data();
    std::unique_ptr<Engine> f = make_engine(backend, ok.spec);
    const EpochProgress q =
        f->train_epoch(ok.images.data(), ok.labels.data(), ok.order.data(), 11, ok.cfg, {}, {});
    check(!q.diverged && q.batches_done == 3, backend + ": a sane learning rate does not diverge");
  }
}
