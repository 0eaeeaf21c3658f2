// The CUDA engine (nn/cuda/cuda_engine.h) against the ref engine, only through the interfaces the addon
// uses (Engine, HeadEngine), plus its whole-step testing aid for single steps. Every test skips with one
// line where no GPU is found.
//
// Tolerances (fp32 convolutions on the GPU against the ref kernels; the sums run in other orders):
//   after an epoch of a few steps: parameters and running statistics |diff| < 1e-4 * max|ref|, momentum
//   1e-3 * max|ref| (it holds raw gradient sums), the loss sum 1e-4 relative;
//   one step: logits 1e-4 * max|ref| + 1e-5, the loss 1e-5 relative, each gradient tensor
//   5e-4 * max|ref in the tensor| + 1e-6 (the PyTorch fixtures' bounds);
//   predict on equal weights: logits and embeddings 1e-4 * max(1, max|ref|).
// ReLU kinks: where a ReLU input is within rounding error of 0 the two engines may take opposite sides and
// their gradients then differ legitimately. The ref engine records the smallest |ReLU input| of a run
// (track_relu_margin); a disagreement while that margin is below kKinkMargin is inconclusive and the data
// are redrawn (at most kMaxDraws times); a disagreement farther from every kink fails.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "core/device_buffer.h"
#include "harness.h"
#include "nn/cuda/cuda_engine.h"
#include "nn/engine.h"
#include "nn/host_engine.h"
#include "nn/network.h"

namespace eos::test {
namespace {

constexpr double kKinkMargin = 1e-5;
constexpr int kMaxDraws = 6;

bool have_device(const char* test) {
  std::string why;
  if (cuda::device_available(&why)) return true;
  std::printf("skip %s: %s\n", test, why.c_str());
  return false;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

struct MaxDiff {
  double diff = 0, scale = 0;
};
MaxDiff max_diff(const std::vector<float>& got, const std::vector<float>& ref) {
  MaxDiff d;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double e = std::fabs(static_cast<double>(got[i]) - ref[i]);
    d.diff = std::max(d.diff, e != e ? INFINITY : e);
    d.scale = std::max(d.scale, std::fabs(static_cast<double>(ref[i])));
  }
  return d;
}

std::vector<float> parameters(const Engine& e) {
  std::vector<float> v(static_cast<size_t>(e.topology().parameter_count));
  e.get_parameters(v.data());
  return v;
}
std::vector<float> momentum(const Engine& e) {
  std::vector<float> v(static_cast<size_t>(e.topology().parameter_count));
  e.get_momentum(v.data());
  return v;
}
std::vector<float> buffers(const Engine& e) {
  std::vector<float> v(static_cast<size_t>(e.topology().buffer_count));
  e.get_buffers(v.data());
  return v;
}

// A ResNet-8 problem: n images of channels x side x side, `classes` classes, a visiting order that is not
// the identity, and an epoch config with augmentation on.
struct Problem {
  NetworkSpec spec;
  std::vector<uint8_t> images;
  std::vector<int32_t> labels, order;
  std::vector<float> mean, std;
  EpochConfig cfg;
  int64_t rows() const { return static_cast<int64_t>(order.size()); }
};

Problem make_problem(int64_t channels, int64_t side, int64_t classes, int64_t n, int64_t batch, HeadKind head,
                     int draw) {
  Problem p;
  p.spec.depth = 8;
  p.spec.in_channels = channels;
  p.spec.side = side;
  p.spec.classes = classes;
  p.spec.seed = 7;
  p.spec.head = head;
  Rand rand(100 + static_cast<uint64_t>(draw));
  p.images.resize(static_cast<size_t>(n * channels * side * side));
  for (uint8_t& v : p.images) v = static_cast<uint8_t>(rand.below(256));
  for (int64_t i = 0; i < n; ++i) p.labels.push_back(static_cast<int32_t>((i * 7) % classes));
  for (int64_t i = 0; i < n; ++i) p.order.push_back(static_cast<int32_t>((i * 11) % n));  // n coprime to 11
  p.mean.assign(static_cast<size_t>(channels), 0.45f);
  p.std.assign(static_cast<size_t>(channels), 0.25f);
  p.cfg.batch = batch;
  p.cfg.sgd = SgdConfig{0.05, 0.9, 2e-4, false};
  p.cfg.augment.channels = channels;
  p.cfg.augment.height = p.cfg.augment.width = side;
  p.cfg.augment.pad = 2;
  p.cfg.augment.seed = 1;
  p.cfg.augment.mean = p.mean.data();
  p.cfg.augment.std = p.std.data();
  if (head == HeadKind::kCosine) {
    p.cfg.loss.kind = LossKind::kLdam;
    std::vector<int64_t> counts;
    for (int64_t c = 0; c < classes; ++c) counts.push_back(10 - 2 * c);
    p.cfg.loss.ldam_margins = ldam_margins(counts, 0.5);
  }
  return p;
}

EpochProgress run_epoch(Engine& e, const Problem& p, const ProgressFn& progress = {},
                        const StopFn& stop = {}) {
  return e.train_epoch(p.images.data(), p.labels.data(), p.order.data(), p.rows(), p.cfg, progress, stop);
}

}  // namespace

EOS_TEST(cuda_engine_trains_as_the_ref_engine) {
  if (!have_device("cuda_engine_trains_as_the_ref_engine")) return;
  struct Case {
    int64_t channels, side, classes, n, batch;
    HeadKind head;
  };
  // 29 rows in batches of 8: 8, 8, 8, 5 (a smaller last batch); 25 rows: 8, 8, 8 and a lone image skipped.
  for (const Case& c : {Case{3, 13, 4, 29, 8, HeadKind::kLinear}, Case{1, 28, 3, 25, 8, HeadKind::kCosine}}) {
    const std::string name = "cuda " + std::to_string(c.channels) + "x" + std::to_string(c.side) + "x" +
                             std::to_string(c.side) +
                             (c.head == HeadKind::kCosine ? " cosine/ldam" : " linear/ce");
    for (int draw = 0;; ++draw) {
      const Problem p = make_problem(c.channels, c.side, c.classes, c.n, c.batch, c.head, draw);
      std::unique_ptr<Engine> ref = make_engine("ref", p.spec);
      std::unique_ptr<Engine> gpu = make_engine("cuda", p.spec);
      ref->set_threads(1);
      if (draw == 0) {
        check(parameters(*gpu) == parameters(*ref) && buffers(*gpu) == buffers(*ref) &&
                  momentum(*gpu) == momentum(*ref),
              name + ": initialised to the same bytes as the ref engine");
      }
      ref->track_relu_margin(true);
      const EpochProgress a = run_epoch(*ref, p);
      const double margin = ref->take_relu_margin();
      const EpochProgress b = run_epoch(*gpu, p);
      const MaxDiff dp = max_diff(parameters(*gpu), parameters(*ref));
      const MaxDiff db = max_diff(buffers(*gpu), buffers(*ref));
      const MaxDiff dm = max_diff(momentum(*gpu), momentum(*ref));
      const bool loss_ok = std::fabs(a.loss_sum - b.loss_sum) <= 1e-4 * std::max(1.0, std::fabs(a.loss_sum));
      const bool agree =
          loss_ok && dp.diff < 1e-4 * dp.scale && db.diff < 1e-4 * db.scale && dm.diff < 1e-3 * dm.scale;
      if (!agree && margin < kKinkMargin && draw + 1 < kMaxDraws) {
        std::printf("  %s draw %d: differs with a ReLU input %s from 0 (a kink); redrawn\n", name.c_str(),
                    draw, num(margin).c_str());
        continue;
      }
      const std::string at =
          " (draw " + std::to_string(draw) + ", smallest |ReLU input| " + num(margin) + ")";
      check(b.batches_done == a.batches_done && b.batches_total == a.batches_total &&
                b.images_done == a.images_done && !b.diverged,
            name + ": the same batches as the ref engine",
            std::to_string(b.batches_done) + "/" + std::to_string(b.batches_total) + " batches, " +
                std::to_string(b.images_done) + " images");
      check(std::llabs(b.correct - a.correct) <= 1, name + ": correct counts agree",
            std::to_string(b.correct) + " vs " + std::to_string(a.correct));
      check(loss_ok, name + ": loss sum" + at, num(b.loss_sum) + " vs " + num(a.loss_sum));
      check(dp.diff < 1e-4 * dp.scale, name + ": parameters" + at, "max|diff| " + num(dp.diff));
      check(db.diff < 1e-4 * db.scale, name + ": running statistics" + at, "max|diff| " + num(db.diff));
      check(dm.diff < 1e-3 * dm.scale, name + ": momentum" + at, "max|diff| " + num(dm.diff));
      check(gpu->num_batches_tracked() == ref->num_batches_tracked(), name + ": num_batches_tracked");

      // Predict on equal weights, a batch that does not divide the rows, and a subset by index.
      gpu->set_parameters(parameters(*ref).data());
      gpu->set_buffers(buffers(*ref).data());
      const int64_t n = c.n, k = c.classes, d = Topology::kEmbeddingDim;
      std::vector<float> la(n * k), ea(n * d), lb(n * k, NAN), eb(n * d, NAN);
      check(ref->predict(p.images.data(), nullptr, n, 7, p.cfg.augment, la.data(), ea.data(), {}) &&
                gpu->predict(p.images.data(), nullptr, n, 7, p.cfg.augment, lb.data(), eb.data(), {}),
            name + ": predict completes");
      const MaxDiff dl = max_diff(lb, la), de = max_diff(eb, ea);
      check(dl.diff < 1e-4 * std::max(1.0, dl.scale), name + ": eval logits", "max|diff| " + num(dl.diff));
      check(de.diff < 1e-4 * std::max(1.0, de.scale), name + ": embeddings", "max|diff| " + num(de.diff));
      const std::vector<int32_t> pick{5, 0, 5, 3};
      std::vector<float> sub(4 * k, NAN);
      gpu->predict(p.images.data(), pick.data(), 4, 3, p.cfg.augment, sub.data(), nullptr, {});
      bool same_rows = true;
      for (int64_t i = 0; i < 4; ++i) {
        for (int64_t j = 0; j < k; ++j) same_rows = same_rows && sub[i * k + j] == lb[pick[i] * k + j];
      }
      check(same_rows, name + ": predict by index gives those rows' logits (the same bytes)");
      break;
    }
  }
}

EOS_TEST(cuda_every_loss_kind_matches_the_reference_network) {
  if (!have_device("cuda_every_loss_kind_matches_the_reference_network")) return;
  NetworkSpec spec;
  spec.depth = 8;
  spec.in_channels = 3;
  spec.side = 13;
  spec.classes = 4;
  spec.seed = 3;
  const int64_t n = 6, k = 4, image = 3 * 13 * 13;
  const std::vector<int32_t> labels{0, 1, 2, 3, 1, 2};
  struct Kind {
    const char* name;
    LossConfig loss;
  };
  std::vector<Kind> kinds(5);
  kinds[0].name = "cross entropy";
  kinds[1].name = "weighted cross entropy";
  kinds[1].loss.class_weights = {0.5, 1.0, 2.0, 1.5};
  kinds[2].name = "focal";
  kinds[2].loss.kind = LossKind::kFocal;
  kinds[2].loss.focal_gamma = 2.0;
  kinds[2].loss.class_weights = {1.0, 0.7, 1.3, 1.0};
  kinds[3].name = "ldam";
  kinds[3].loss.kind = LossKind::kLdam;
  kinds[3].loss.ldam_margins = ldam_margins({40, 20, 10, 5}, 0.5);
  kinds[4].name = "asl";
  kinds[4].loss.kind = LossKind::kAsl;
  const SgdConfig sgd{0.1, 0.9, 5e-4, true};
  for (const Kind& kind : kinds) {
    const std::string name = std::string("cuda step, ") + kind.name;
    // Inputs whose ReLU inputs all lie at least kKinkMargin from 0 (judged by the reference network).
    std::vector<float> x;
    double margin = 0;
    for (int draw = 0; draw < kMaxDraws && margin < kKinkMargin; ++draw) {
      x = Rand(200 + static_cast<uint64_t>(draw)).normals<float>(n * image);
      Network<float> probe(spec);
      probe.track_relu_margin(true);
      probe.forward(x.data(), n, Mode::kTrain, nullptr, nullptr);
      margin = probe.take_relu_margin();
    }
    Network<float> net(spec);
    net.set_threads(1);
    cuda::CudaEngine gpu(spec, cuda::MathMode::kFp32);
    std::vector<float> la(n * k), lb(n * k, NAN);
    const double va = net.train_step(x.data(), labels.data(), n, kind.loss, sgd, la.data());
    const double vb = gpu.train_step(x.data(), labels.data(), n, kind.loss, sgd, lb.data());
    const MaxDiff dl = max_diff(lb, la);
    check(dl.diff <= 1e-4 * dl.scale + 1e-5, name + ": train-mode logits", "max|diff| " + num(dl.diff));
    check_near(vb, va, 1e-5 * std::fabs(va) + 1e-6, name + ": loss");
    std::vector<float> ga(static_cast<size_t>(net.parameter_count())), gb(ga.size());
    net.get_gradients(ga.data());
    gpu.get_gradients(gb.data());
    bool grads_ok = true;
    std::string worst;
    for (const TensorInfo& t : net.parameters()) {
      const std::vector<float> a(ga.begin() + t.offset, ga.begin() + t.offset + t.count);
      const std::vector<float> b(gb.begin() + t.offset, gb.begin() + t.offset + t.count);
      const MaxDiff d = max_diff(b, a);
      if (!(d.diff <= 5e-4 * d.scale + 1e-6)) {
        grads_ok = false;
        worst = t.name + " max|diff| " + num(d.diff) + " of " + num(d.scale);
      }
    }
    check(grads_ok, name + ": every gradient tensor (smallest |ReLU input| " + num(margin) + ")", worst);
    std::vector<float> pa(ga.size()), pb(ga.size());
    net.get_parameters(pa.data());
    gpu.get_parameters(pb.data());
    const MaxDiff dp = max_diff(pb, pa);
    check(dp.diff < 1e-4 * dp.scale, name + ": parameters after the SGD step", "max|diff| " + num(dp.diff));
  }
}

EOS_TEST(cuda_a_diverging_epoch_reports_as_the_ref_engine) {
  if (!have_device("cuda_a_diverging_epoch_reports_as_the_ref_engine")) return;
  Problem p = make_problem(1, 10, 3, 11, 4, HeadKind::kLinear, 0);
  // This learning rate makes the first update overflow: the second batch's loss is not finite.
  p.cfg.sgd.lr = 1e30;
  p.cfg.progress_every = 1;
  std::vector<int64_t> seen_ref, seen_gpu;
  std::unique_ptr<Engine> ref = make_engine("ref", p.spec);
  std::unique_ptr<Engine> gpu = make_engine("cuda", p.spec);
  const EpochProgress a =
      run_epoch(*ref, p, [&](const EpochProgress& q) { seen_ref.push_back(q.batches_done); });
  const EpochProgress b =
      run_epoch(*gpu, p, [&](const EpochProgress& q) { seen_gpu.push_back(q.batches_done); });
  check(a.diverged && b.diverged, "cuda: the epoch says it diverged, as the ref engine's does");
  check(b.batches_done == a.batches_done && b.images_done == a.images_done &&
            b.batches_total == a.batches_total,
        "cuda: stopped after the same batch as the ref engine, which is not counted",
        std::to_string(b.batches_done) + " batches, " + std::to_string(b.images_done) + " images");
  check(std::isfinite(b.loss_sum) && std::fabs(b.loss_sum - a.loss_sum) <= 1e-4 * std::max(1.0, a.loss_sum),
        "cuda: the loss sums only the finite batches", num(b.loss_sum) + " vs " + num(a.loss_sum));
  check(seen_gpu == seen_ref, "cuda: progress reported for the same batches (none for the diverged one)");
  // The documented difference: steps already queued behind the diverged one ran their forward passes.
  const int64_t tracked_ref = ref->num_batches_tracked()[0], tracked_gpu = gpu->num_batches_tracked()[0];
  check(tracked_gpu >= tracked_ref && tracked_gpu <= tracked_ref + cuda::CudaEngine::kInFlight - 1,
        "cuda: num_batches_tracked counts the diverged batch and at most kInFlight - 1 queued after it",
        std::to_string(tracked_gpu) + " vs the ref's " + std::to_string(tracked_ref));

  Problem ok = make_problem(1, 10, 3, 11, 4, HeadKind::kLinear, 0);
  std::unique_ptr<Engine> fine = make_engine("cuda", ok.spec);
  const EpochProgress q = run_epoch(*fine, ok);
  check(!q.diverged && q.batches_done == 3, "cuda: a sane learning rate does not diverge");
}

EOS_TEST(cuda_stop_requests_are_honoured) {
  if (!have_device("cuda_stop_requests_are_honoured")) return;
  Problem p = make_problem(3, 13, 4, 40, 4, HeadKind::kLinear, 0);  // ten batches
  std::unique_ptr<Engine> gpu = make_engine("cuda", p.spec);
  const std::vector<float> before = parameters(*gpu);
  // HostEngine's progress cadence: every third batch and the last (3, 6, 9, 10), with its counts.
  p.cfg.progress_every = 3;
  std::vector<std::vector<int64_t>> seen_ref, seen_gpu;
  std::unique_ptr<Engine> ref = make_engine("ref", p.spec);
  auto recorder = [](std::vector<std::vector<int64_t>>& seen) {
    return [&seen](const EpochProgress& q) {
      seen.push_back({q.batches_done, q.batches_total, q.images_done});
    };
  };
  run_epoch(*ref, p, recorder(seen_ref));
  std::unique_ptr<Engine> paced = make_engine("cuda", p.spec);
  run_epoch(*paced, p, recorder(seen_gpu));
  check(seen_ref.size() == 4 && seen_gpu == seen_ref,
        "cuda: progress every 3 batches and at the last, with the ref engine's counts");
  p.cfg.progress_every = 0;
  int polls = 0;
  const EpochProgress none = run_epoch(*gpu, p, {}, [] { return true; });
  check(none.batches_done == 0 && parameters(*gpu) == before,
        "cuda: a stop before the first batch runs none");
  const EpochProgress one = run_epoch(*gpu, p, {}, [&polls] { return ++polls > 1; });
  check(one.batches_done == 1 && one.batches_total == 10 && one.images_done == 4,
        "cuda: a stop after one batch ends the epoch there, as the ref engine does");
  polls = 0;
  const EpochProgress five = run_epoch(*gpu, p, {}, [&polls] { return ++polls > 5; });
  check(five.batches_done == 5, "cuda: a stop after five batches (graph replays in flight) stops at five",
        std::to_string(five.batches_done));
  std::vector<int64_t> tracked = gpu->num_batches_tracked();
  check(tracked[0] == 6, "cuda: num_batches_tracked counts the batches run", std::to_string(tracked[0]));
  std::vector<float> logits(40 * 4);
  polls = 0;
  check(!gpu->predict(p.images.data(), nullptr, 40, 8, p.cfg.augment, logits.data(), nullptr,
                      [&polls] { return ++polls > 2; }),
        "cuda: a stopped predict says so");
}

EOS_TEST(cuda_same_seed_same_bytes) {
  if (!have_device("cuda_same_seed_same_bytes")) return;
  Problem p = make_problem(3, 13, 4, 29, 8, HeadKind::kLinear, 0);
  // With predict_between, an eval pass in batches larger than the training batch comes between the epochs:
  // it regrows the arena (the captured step's addresses go stale) and must leave the training state alone.
  auto run = [&](bool predict_between) {
    std::unique_ptr<Engine> e = make_engine("cuda", p.spec);
    run_epoch(*e, p);
    if (predict_between) {
      std::vector<float> logits(29 * 4);
      e->predict(p.images.data(), nullptr, 29, 16, p.cfg.augment, logits.data(), nullptr, {});
    }
    p.cfg.augment.epoch = 1;  // a second epoch: other crops, so a new capture of the step
    run_epoch(*e, p);
    p.cfg.augment.epoch = 0;
    return e;
  };
  std::unique_ptr<Engine> a = run(false), b = run(true);
  check(parameters(*a) == parameters(*b) && momentum(*a) == momentum(*b) && buffers(*a) == buffers(*b),
        "cuda: two fresh engines, the same seed and data: the same bytes after two epochs (one with a "
        "larger-batch predict between them)");
  a->initialize(p.spec.seed);
  std::unique_ptr<Engine> fresh = make_engine("cuda", p.spec);
  check(parameters(*a) == parameters(*fresh) && momentum(*a) == momentum(*fresh) &&
            buffers(*a) == buffers(*fresh) && a->num_batches_tracked() == fresh->num_batches_tracked(),
        "cuda: initialize(seed) resets to a fresh engine's state");
  // Another data set at the same address: the image cache must see the new bytes.
  Problem q = make_problem(3, 13, 4, 29, 8, HeadKind::kLinear, 1);
  std::vector<uint8_t> shared = p.images;
  std::vector<float> l1(29 * 4), l2(29 * 4);
  a->predict(shared.data(), nullptr, 29, 8, p.cfg.augment, l1.data(), nullptr, {});
  std::copy(q.images.begin(), q.images.end(), shared.begin());
  a->predict(shared.data(), nullptr, 29, 8, p.cfg.augment, l2.data(), nullptr, {});
  std::vector<float> l3(29 * 4);
  fresh->predict(q.images.data(), nullptr, 29, 8, p.cfg.augment, l3.data(), nullptr, {});
  check(l2 == l3 && l1 != l2, "cuda: new bytes at a cached address are uploaded again");
}

EOS_TEST(cuda_head_engine_matches_the_host_head_engine) {
  if (!have_device("cuda_head_engine_matches_the_host_head_engine")) return;
  const int64_t n = 37, D = 64, K = 5;
  Rand rand(9);
  const std::vector<float> x = rand.normals<float>(n * D);
  std::vector<int32_t> labels(n);
  for (int64_t i = 0; i < n; ++i) labels[i] = static_cast<int32_t>((i * 3) % K);
  for (HeadKind head : {HeadKind::kLinear, HeadKind::kCosine}) {
    const std::string name =
        std::string("cuda head (") + (head == HeadKind::kLinear ? "linear" : "cosine") + ")";
    HeadTrainingConfig cfg;
    cfg.head = head;
    cfg.dim = D;
    cfg.classes = K;
    cfg.batch = 8;
    cfg.epochs = 3;
    cfg.rows_per_epoch = 44;  // resampled: more rows than images; batches of 8, the last one of 4
    cfg.lr_per_epoch = {0.1, 0.05, 0.01};
    cfg.weights_per_epoch = {{}, {1.0, 2.0, 0.5, 1.0, 1.5}, {}};
    cfg.sgd = SgdConfig{0, 0.9, 5e-4, false};
    if (head == HeadKind::kCosine) {
      cfg.loss.kind = LossKind::kLdam;
      cfg.loss.ldam_margins = ldam_margins({20, 10, 8, 5, 3}, 0.5);
    }
    std::vector<int32_t> orders(static_cast<size_t>(cfg.epochs * cfg.rows_per_epoch));
    for (size_t i = 0; i < orders.size(); ++i) orders[i] = static_cast<int32_t>((i * 13 + i / 44) % n);
    const HeadParameters init = init_head(head, D, K, 4);
    HeadParameters pa = init, pb = init;
    std::unique_ptr<HeadEngine> host = make_head_engine("ref");
    std::unique_ptr<HeadEngine> gpu = make_head_engine("cuda");
    check(std::string(gpu->name()) == "cuda", name + ": make_head_engine gives the cuda engine");
    const std::vector<double> la = host->train_head(cfg, x.data(), n, labels.data(), orders.data(), pa, {});
    const std::vector<double> lb = gpu->train_head(cfg, x.data(), n, labels.data(), orders.data(), pb, {});
    bool losses_ok = la.size() == lb.size();
    for (size_t e = 0; losses_ok && e < la.size(); ++e)
      losses_ok = std::fabs(la[e] - lb[e]) <= 1e-5 * std::fabs(la[e]);
    check(losses_ok, name + ": per-epoch losses within 1e-5 relative");
    const MaxDiff dw = max_diff(pb.weight, pa.weight), dbias = max_diff(pb.bias, pa.bias);
    check(dw.diff < 1e-4 * dw.scale && (pa.bias.empty() || dbias.diff < 1e-4 * dbias.scale),
          name + ": trained weights within 1e-4 of the host's",
          "max|diff| " + num(std::max(dw.diff, dbias.diff)));

    HeadParameters pc = init;
    int polls = 0;
    const std::vector<double> lc = gpu->train_head(cfg, x.data(), n, labels.data(), orders.data(), pc,
                                                   [&polls] { return ++polls > 7; });  // inside epoch 2
    check(lc.size() == 1 && pc.weight == init.weight && pc.bias == init.bias,
          name + ": a stop returns the completed epochs' losses and leaves the parameters as they were");

    std::vector<float> ya(n * K), yb(n * K, NAN);
    host->head_logits(head, D, K, pa, x.data(), n, ya.data());
    gpu->head_logits(head, D, K, pa, x.data(), n, yb.data());
    const MaxDiff dy = max_diff(yb, ya);
    check(dy.diff <= 1e-5 * std::max(1.0, dy.scale), name + ": head logits", "max|diff| " + num(dy.diff));
  }
}

EOS_TEST(cuda_tensor_core_math_modes_train_close_to_fp32) {
  if (!have_device("cuda_tensor_core_math_modes_train_close_to_fp32")) return;
  const Problem p = make_problem(3, 13, 4, 29, 8, HeadKind::kLinear, 0);
  cuda::CudaEngine exact(p.spec, cuda::MathMode::kFp32);
  run_epoch(exact, p);
  const std::vector<float> want = parameters(exact);
  // tf32 keeps 10 mantissa bits, bf16 7: after four steps the parameters stay within a few percent.
  for (cuda::MathMode mode : {cuda::MathMode::kTf32, cuda::MathMode::kBf16}) {
    cuda::CudaEngine fast(p.spec, mode);
    const EpochProgress q = run_epoch(fast, p);
    const MaxDiff d = max_diff(parameters(fast), want);
    check(!q.diverged && d.diff < 5e-2 * d.scale,
          std::string("cuda: ") + cuda::math_mode_name(mode) + " convolutions train close to fp32",
          "max|diff| " + num(d.diff) + " of " + num(d.scale));
  }
}

EOS_TEST(cuda_backend_selection) {
  std::string why;
  const bool device = cuda::device_available(&why);
  // EOS_CUDA_MATH: the three modes by name, anything else refused naming the variable.
  const char* saved = std::getenv("EOS_CUDA_MATH");
  const std::string previous = saved ? saved : "";
  unsetenv("EOS_CUDA_MATH");
  check(cuda::math_mode_from_environment() == cuda::MathMode::kFp32, "cuda: EOS_CUDA_MATH unset means fp32");
  setenv("EOS_CUDA_MATH", "bf16", 1);
  check(cuda::math_mode_from_environment() == cuda::MathMode::kBf16, "cuda: EOS_CUDA_MATH=bf16");
  setenv("EOS_CUDA_MATH", "fp16", 1);
  std::string refused;
  try {
    cuda::math_mode_from_environment();
  } catch (const std::invalid_argument& e) {
    refused = e.what();
  }
  check(refused.find("EOS_CUDA_MATH") != std::string::npos && refused.find("'fp16'") != std::string::npos,
        "cuda: an unknown EOS_CUDA_MATH is refused naming the variable and the value", refused);
  if (device) {
    refused.clear();
    try {
      make_engine("cuda", NetworkSpec{});
    } catch (const std::invalid_argument& e) {
      refused = e.what();
    }
    check(refused.find("EOS_CUDA_MATH") != std::string::npos, "cuda: make_engine refuses it too", refused);
  }
  if (saved) {
    setenv("EOS_CUDA_MATH", previous.c_str(), 1);
  } else {
    unsetenv("EOS_CUDA_MATH");
  }

  const std::vector<std::string> built = built_backends();
  check(!built.empty() && built.front() == "cuda", "cuda: a CUDA build lists the cuda backend first");
  check(resolve_backend("auto") == (device ? "cuda" : built[1]),
        "cuda: 'auto' resolves to cuda exactly where a GPU is found", resolve_backend("auto"));
  check(backend_usable("cuda") == device, "cuda: backend_usable says whether a GPU is found");
  if (device) return;
  std::string message;
  try {
    make_engine("cuda", NetworkSpec{});
  } catch (const std::invalid_argument& e) {
    message = e.what();
  }
  check(message.find("no CUDA device found") != std::string::npos &&
            message.find("'auto'") != std::string::npos,
        "cuda: without a GPU, make_engine('cuda') says no CUDA device was found and what to use", message);
  message.clear();
  try {
    make_head_engine("cuda");
  } catch (const std::invalid_argument& e) {
    message = e.what();
  }
  check(message.find("no CUDA device found") != std::string::npos, "cuda: make_head_engine likewise",
        message);
}

}  // namespace eos::test
