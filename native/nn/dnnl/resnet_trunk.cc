#include "nn/dnnl/resnet_trunk.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <new>
#include <oneapi/dnnl/dnnl.hpp>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "nn/dims.h"
#include "nn/dnnl/blocked_ops.h"

namespace eos::dnnl_backend {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;
using Args = std::unordered_map<int, memory>;

BlockedLayout layout_of(const memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.ndims != 4 || d.format_kind != dnnl_blocked)
    throw std::runtime_error("dnnl trunk: unexpected layout");
  const dnnl_blocking_desc_t& b = d.format_desc.blocking;
  BlockedLayout l{d.dims[0],    d.dims[1],    d.dims[2],    d.dims[3], b.strides[0],
                  b.strides[1], b.strides[2], b.strides[3], 1};
  if (b.inner_nblks == 1 && b.inner_idxs[0] == 1) {
    l.blk = b.inner_blks[0];
  } else if (b.inner_nblks != 0) {
    throw std::runtime_error("dnnl trunk: activation layout blocks more than the channels");
  }
  // The passes in blocked_ops.h treat each image as one contiguous slice.
  if (l.sn * l.n * static_cast<int64_t>(sizeof(float)) != static_cast<int64_t>(md.get_size())) {
    throw std::runtime_error("dnnl trunk: activation layout is not image-major");
  }
  return l;
}

// 64-byte aligned, zero-filled float storage owned by the plan.
struct Buffer {
  float* p = nullptr;
  size_t bytes = 0;
  explicit Buffer(size_t b) : bytes(b) {
    if (bytes == 0) return;
    p = static_cast<float*>(::operator new (bytes, std::align_val_t{64}));
    std::memset(p, 0, bytes);
  }
  ~Buffer() {
    if (p) ::operator delete (p, std::align_val_t{64});
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

// One replayable operation: a oneDNN primitive with its arguments, or a custom pass.
struct Step {
  std::string name;
  std::string impl;  // oneDNN's implementation name (empty for custom passes)
  dnnl::primitive prim;
  Args args;
  std::function<void()> fn;
  bool needs_scratchpad = false;
  memory::desc scratchpad_md;
};
using Program = std::vector<Step>;

struct Conv {
  ConvDims d;
  memory::desc src_md, dst_md;
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd;
  dnnl::convolution_backward_weights::primitive_desc bwd_w_pd;
  memory bwd_w_src;  // the source as bwd_w_pd reads it, when that is not src_md's layout (reordered per step)
  bool has_bwd_data = false;
  dnnl::algorithm algo = dnnl::algorithm::convolution_direct;
  memory user_w, user_dw;             // PyTorch oihw in the caller's buffers (rebound per call)
  memory fwd_w, bwd_data_w, prim_dw;  // oneDNN's preferred layouts (== user_* when they agree)
};

struct Bn {
  int64_t c = 0, m = 0;  // channels, values per channel
  bool relu = false;
  memory::desc md;
  dnnl::batch_normalization_forward::primitive_desc train_pd;
  dnnl::batch_normalization_backward::primitive_desc bwd_pd;
  memory scale, shift, dscale, dshift, running_mean, running_var;  // caller's (rebound per call)
  memory mean, var, ws;                                            // plan's
};

struct Block {
  int conv1, conv2;  // indices into convs / bns
  ShortcutDims sc;
  memory x, c1, h1, c2, out;  // training activations
};

// Process CPU time: steadier than wall time on a shared machine (profile with 1 thread: with more, OpenMP's
// spin-waiting is counted too).
double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

memory::dims dims4(int64_t n, int64_t c, int64_t h, int64_t w) { return {n, c, h, w}; }

// oneDNN's reference implementations ("ref:any", ...) are correct but one to two orders of magnitude slower
// than its JIT kernels.
template <typename PD>
bool is_reference_impl(const PD& pd) {
  return std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
}

}  // namespace

struct Trunk::Impl {
  TrunkSpec spec;
  int64_t batch;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::primitive_attr attr;

  std::vector<std::unique_ptr<Buffer>> buffers;
  std::vector<Conv> convs;
  std::vector<Bn> bns;
  std::vector<Block> blocks;
  memory user_x, stem_src, stem_c, stem_a;  // input as given, input as the stem conv reads it, stem outputs
  bool reorder_input = false;
  BlockedLayout last_layout{};
  memory last_out;
  const float* dfeatures = nullptr;
  float* features = nullptr;
  memory bwd_buf[3];  // raw scratch tensors for the backward pass (max activation size each)
  Buffer* bwd_raw[3] = {nullptr, nullptr, nullptr};
  std::unique_ptr<Buffer> scratchpad;

  Program fwd_train, bwd, fwd_eval;

  bool profile = false;
  std::map<std::string, std::pair<double, int64_t>> prof;  // name -> seconds, calls

  Impl(const TrunkSpec& s, int64_t n) : spec(s), batch(n) {
    profile = spec.tuning.profile;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    build();
  }

  memory alloc(const memory::desc& md) {
    buffers.push_back(std::make_unique<Buffer>(md.get_size()));
    return memory(md, eng, buffers.back()->p);
  }

  // A step running `prim` with `args`, its scratchpad attached once the plan knows the largest one.
  template <typename PD>
  Step prim_step(const std::string& name, const PD& pd, Args args) {
    Step s;
    s.name = name;
    s.args = std::move(args);
    s.impl = pd.impl_info_str();
    s.scratchpad_md = pd.scratchpad_desc();
    s.needs_scratchpad = s.scratchpad_md.get_size() > 0;
    return s;
  }

  static Step reorder_step(const std::string& name, const memory& from, const memory& to) {
    Step s;
    s.name = name;
    const dnnl::reorder::primitive_desc pd(from, to);
    s.impl = pd.impl_info_str();
    s.prim = dnnl::reorder(pd);
    s.args = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return s;
  }

  static Step custom_step(const std::string& name, std::function<void()> fn) {
    Step s;
    s.name = name;
    s.fn = std::move(fn);
    return s;
  }

  // Which algorithm a convolution uses. Measured on the 2-core AVX-512 machine (ResNet-32, batch 128):
  // oneDNN's Winograd F(4x4, 3x3) kernels (jit_wino_4x3) take 30-50% less time than the direct ones for the
  // stride-1 convolutions with 32 and 64 channels in all three passes, and are no faster at 16 channels;
  // stride 2 has no Winograd kernel. spec.tuning.conv_algorithm overrides the rule (for benchmarking).
  // Winograd is kept only when oneDNN implements forward, backward data and backward weights with it for this
  // shape.
  dnnl::algorithm pick_algorithm(const ConvDims& d, const memory::desc& src, const memory::desc& wei,
                                 const memory::desc& dst, const memory::dims& strides,
                                 const memory::dims& pad_l, const memory::dims& pad_r) {
    const std::string& tuned = spec.tuning.conv_algorithm;
    const std::string want = tuned != "auto" ? tuned : (d.k >= 32 ? "winograd" : "direct");
    if (want != "winograd" || d.stride != 1) return dnnl::algorithm::convolution_direct;
    const dnnl::algorithm algo = dnnl::algorithm::convolution_winograd;
    try {
      dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, algo, src, wei, dst, strides,
                                         pad_l, pad_r);
      dnnl::convolution_forward::primitive_desc fpd(fd, attr, eng);
      dnnl::convolution_backward_data::desc bd(algo, fpd.src_desc(), wei, fpd.dst_desc(), strides, pad_l,
                                               pad_r);
      dnnl::convolution_backward_data::primitive_desc bpd(bd, attr, eng, fpd);
      dnnl::convolution_backward_weights::desc wd(algo, fpd.src_desc(), wei, fpd.dst_desc(), strides, pad_l,
                                                  pad_r);
      dnnl::convolution_backward_weights::primitive_desc wpd(wd, attr, eng, fpd);
      return algo;
    } catch (const dnnl::error&) {
      return dnnl::algorithm::convolution_direct;
    }
  }

  int add_conv(int64_t c, int64_t h, int64_t w, int64_t k, int64_t stride, const memory::desc* src_exact,
               bool needs_bwd_data) {
    Conv cv;
    cv.d = conv3x3_dims(batch, c, h, w, k, stride);
    const ConvDims& d = cv.d;
    const memory::dims strides{d.stride, d.stride}, pad_l{1, 1};
    // Right padding that makes oneDNN's output size formula give exactly PyTorch's P and Q.
    const memory::dims pad_r{(d.p - 1) * d.stride + 3 - d.h - 1, (d.q - 1) * d.stride + 3 - d.w - 1};
    const memory::desc src_any(dims4(d.n, d.c, d.h, d.w), dt::f32, tag::any);
    const memory::desc src = src_exact ? *src_exact : src_any;
    const memory::desc wei_any({d.k, d.c, 3, 3}, dt::f32, tag::any);
    const memory::desc dst_any(dims4(d.n, d.k, d.p, d.q), dt::f32, tag::any);
    const dnnl::algorithm algo = pick_algorithm(d, src, wei_any, dst_any, strides, pad_l, pad_r);
    dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, algo, src, wei_any, dst_any,
                                       strides, pad_l, pad_r);
    cv.fwd_pd = dnnl::convolution_forward::primitive_desc(fd, attr, eng);
    cv.algo = algo;
    cv.src_md = cv.fwd_pd.src_desc();
    cv.dst_md = cv.fwd_pd.dst_desc();
    if (needs_bwd_data) {
      dnnl::convolution_backward_data::desc bd(algo, cv.src_md, wei_any, cv.dst_md, strides, pad_l, pad_r);
      cv.bwd_data_pd = dnnl::convolution_backward_data::primitive_desc(bd, attr, eng, cv.fwd_pd);
      cv.has_bwd_data = true;
    }
    dnnl::convolution_backward_weights::desc wd(algo, cv.src_md, wei_any, cv.dst_md, strides, pad_l, pad_r);
    cv.bwd_w_pd = dnnl::convolution_backward_weights::primitive_desc(wd, attr, eng, cv.fwd_pd);
    if (is_reference_impl(cv.bwd_w_pd)) {
      // oneDNN may have no JIT kernel for the forward pass's source layout: the stem with one input channel
      // reads plain nchw, and on AVX2/SSE4.1 the weight gradient of nchw x nChw8c is ref:any (~450 ms per
      // call at batch 128, 28x28: half a training step). Letting oneDNN choose the source layout gives it
      // nChw8c (the channel padded to 8) and a JIT kernel; the backward pass then reorders the source, a
      // few MB, first.
      const memory::desc src_any_bwd(dims4(d.n, d.c, d.h, d.w), dt::f32, tag::any);
      dnnl::convolution_backward_weights::desc wd_any(algo, src_any_bwd, wei_any, cv.dst_md, strides, pad_l,
                                                      pad_r);
      dnnl::convolution_backward_weights::primitive_desc pd_any(wd_any, attr, eng, cv.fwd_pd);
      if (!is_reference_impl(pd_any)) {
        cv.bwd_w_pd = pd_any;
        cv.bwd_w_src = alloc(pd_any.src_desc());
      }
    }

    const memory::desc user_md({d.k, d.c, 3, 3}, dt::f32, tag::oihw);
    cv.user_w = memory(user_md, eng, nullptr);
    cv.user_dw = memory(user_md, eng, nullptr);
    cv.fwd_w = cv.fwd_pd.weights_desc() == user_md ? cv.user_w : alloc(cv.fwd_pd.weights_desc());
    if (cv.has_bwd_data) {
      const memory::desc md = cv.bwd_data_pd.weights_desc();
      cv.bwd_data_w = md == user_md ? cv.user_w : md == cv.fwd_pd.weights_desc() ? cv.fwd_w : alloc(md);
    }
    cv.prim_dw =
        cv.bwd_w_pd.diff_weights_desc() == user_md ? cv.user_dw : alloc(cv.bwd_w_pd.diff_weights_desc());
    convs.push_back(std::move(cv));
    return static_cast<int>(convs.size()) - 1;
  }

  int add_bn(const memory::desc& md, bool relu) {
    Bn b;
    b.md = md;
    b.c = md.dims()[1];
    b.m = md.dims()[0] * md.dims()[2] * md.dims()[3];
    b.relu = relu;
    const float eps = static_cast<float>(spec.bn_eps);
    auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    if (relu) flags |= dnnl::normalization_flags::fuse_norm_relu;
    dnnl::batch_normalization_forward::desc td(dnnl::prop_kind::forward_training, md, eps, flags);
    b.train_pd = dnnl::batch_normalization_forward::primitive_desc(td, attr, eng);
    dnnl::batch_normalization_backward::desc bd(dnnl::prop_kind::backward, md, md, eps, flags);
    b.bwd_pd = dnnl::batch_normalization_backward::primitive_desc(bd, attr, eng, b.train_pd);
    const memory::desc vec({b.c}, dt::f32, tag::x);
    b.scale = memory(vec, eng, nullptr);
    b.shift = memory(vec, eng, nullptr);
    b.dscale = memory(vec, eng, nullptr);
    b.dshift = memory(vec, eng, nullptr);
    b.running_mean = memory(vec, eng, nullptr);
    b.running_var = memory(vec, eng, nullptr);
    b.mean = alloc(b.train_pd.mean_desc());
    b.var = alloc(b.train_pd.variance_desc());
    if (relu) b.ws = alloc(b.train_pd.workspace_desc());
    bns.push_back(std::move(b));
    return static_cast<int>(bns.size()) - 1;
  }

  Step conv_fwd_step(int i, const memory& src, const memory& dst) {
    Conv& cv = convs[i];
    Step s = prim_step("conv_fwd k" + std::to_string(cv.d.k), cv.fwd_pd,
                       {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, cv.fwd_w}, {DNNL_ARG_DST, dst}});
    s.prim = dnnl::convolution_forward(cv.fwd_pd);
    return s;
  }
  Step conv_bwd_data_step(int i, const memory& diff_dst, const memory& diff_src) {
    Conv& cv = convs[i];
    Step s = prim_step(
        "conv_bwd_data k" + std::to_string(cv.d.k), cv.bwd_data_pd,
        {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, cv.bwd_data_w}, {DNNL_ARG_DIFF_SRC, diff_src}});
    s.prim = dnnl::convolution_backward_data(cv.bwd_data_pd);
    return s;
  }
  // Appends to `p` the weight-gradient step of conv i (and the reorder of its source that it may need).
  void push_conv_bwd_w(Program& p, int i, const memory& src, const memory& diff_dst) {
    Conv& cv = convs[i];
    if (cv.bwd_w_src) {
      p.push_back(reorder_step("reorder_bwd_weights_src", src, cv.bwd_w_src));
      p.push_back(conv_bwd_w_step(i, cv.bwd_w_src, diff_dst));
    } else {
      p.push_back(conv_bwd_w_step(i, src, diff_dst));
    }
  }
  Step conv_bwd_w_step(int i, const memory& src, const memory& diff_dst) {
    Conv& cv = convs[i];
    Step s =
        prim_step("conv_bwd_weights k" + std::to_string(cv.d.k), cv.bwd_w_pd,
                  {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, cv.prim_dw}});
    s.prim = dnnl::convolution_backward_weights(cv.bwd_w_pd);
    return s;
  }
  Step bn_train_step(int i, const memory& src, const memory& dst) {
    Bn& b = bns[i];
    Args a{{DNNL_ARG_SRC, src},       {DNNL_ARG_DST, dst},     {DNNL_ARG_SCALE, b.scale},
           {DNNL_ARG_SHIFT, b.shift}, {DNNL_ARG_MEAN, b.mean}, {DNNL_ARG_VARIANCE, b.var}};
    if (b.relu) a[DNNL_ARG_WORKSPACE] = b.ws;
    Step s = prim_step(b.relu ? "bn_relu_fwd" : "bn_fwd", b.train_pd, std::move(a));
    s.prim = dnnl::batch_normalization_forward(b.train_pd);
    return s;
  }
  Step bn_bwd_step(int i, const memory& src, const memory& diff_dst, const memory& diff_src) {
    Bn& b = bns[i];
    Args a{{DNNL_ARG_SRC, src},           {DNNL_ARG_DIFF_DST, diff_dst},   {DNNL_ARG_SCALE, b.scale},
           {DNNL_ARG_SHIFT, b.shift},     {DNNL_ARG_MEAN, b.mean},         {DNNL_ARG_VARIANCE, b.var},
           {DNNL_ARG_DIFF_SRC, diff_src}, {DNNL_ARG_DIFF_SCALE, b.dscale}, {DNNL_ARG_DIFF_SHIFT, b.dshift}};
    if (b.relu) a[DNNL_ARG_WORKSPACE] = b.ws;
    Step s = prim_step(b.relu ? "bn_relu_bwd" : "bn_bwd", b.bwd_pd, std::move(a));
    s.prim = dnnl::batch_normalization_backward(b.bwd_pd);
    return s;
  }

  // A view of backward scratch tensor `i` with layout `md`.
  memory scratch_view(int i, const memory::desc& md) { return memory(md, eng, bwd_raw[i]->p); }

  void build() {
    const int64_t n = batch;
    // --- layers and training activations
    const memory::desc input_md(dims4(n, spec.channels, spec.height, spec.width), dt::f32, tag::nchw);
    user_x = memory(input_md, eng, nullptr);
    const int stem = add_conv(spec.channels, spec.height, spec.width, spec.stem_planes, 1, nullptr, false);
    reorder_input = convs[stem].src_md != input_md;
    stem_src = reorder_input ? alloc(convs[stem].src_md) : user_x;
    stem_c = alloc(convs[stem].dst_md);
    add_bn(convs[stem].dst_md, true);
    stem_a = alloc(convs[stem].dst_md);

    memory x = stem_a;
    int64_t h = convs[stem].d.p, w = convs[stem].d.q;
    for (const ResidualBlock& rb : spec.blocks) {
      Block blk;
      blk.x = x;
      const memory::desc xmd = x.get_desc();
      blk.conv1 = add_conv(rb.planes_in, h, w, rb.planes, rb.stride, &xmd, true);
      const Conv& c1 = convs[blk.conv1];
      blk.c1 = alloc(c1.dst_md);
      add_bn(c1.dst_md, true);
      blk.h1 = alloc(c1.dst_md);
      blk.conv2 = add_conv(rb.planes, c1.d.p, c1.d.q, rb.planes, 1, &c1.dst_md, true);
      const Conv& c2 = convs[blk.conv2];
      blk.c2 = alloc(c2.dst_md);
      add_bn(c2.dst_md, false);
      blk.out = alloc(c2.dst_md);
      blk.sc = option_a_dims(n, rb.planes_in, h, w, rb.planes, rb.stride);
      blocks.push_back(blk);
      x = blk.out;
      h = c2.d.p;
      w = c2.d.q;
    }
    last_out = x;
    last_layout = layout_of(x.get_desc());

    // --- backward scratch: three tensors of the largest activation size
    size_t biggest = 0;
    for (const Conv& cv : convs) biggest = std::max({biggest, cv.src_md.get_size(), cv.dst_md.get_size()});
    for (int i = 0; i < 3; ++i) {
      buffers.push_back(std::make_unique<Buffer>(biggest));
      bwd_raw[i] = buffers.back().get();
    }

    build_forward_train();
    build_backward();
    build_forward_eval();
    attach_scratchpad();
  }

  void build_forward_train() {
    Program& p = fwd_train;
    // Parameters change between steps (SGD), so the blocked weight copies are refreshed every call.
    for (Conv& cv : convs) {
      if (cv.fwd_pd.weights_desc() != cv.user_w.get_desc())
        p.push_back(reorder_step("reorder_weights", cv.user_w, cv.fwd_w));
    }
    if (reorder_input) p.push_back(reorder_step("reorder_input", user_x, stem_src));
    p.push_back(conv_fwd_step(0, stem_src, stem_c));
    p.push_back(bn_train_step(0, stem_c, stem_a));
    for (Block& b : blocks) {
      p.push_back(conv_fwd_step(b.conv1, b.x, b.c1));
      p.push_back(bn_train_step(b.conv1, b.c1, b.h1));
      p.push_back(conv_fwd_step(b.conv2, b.h1, b.c2));
      p.push_back(bn_train_step(b.conv2, b.c2, b.out));
      const BlockedLayout lx = layout_of(b.x.get_desc()), ly = layout_of(b.out.get_desc());
      const ShortcutDims sc = b.sc;
      float* xp = static_cast<float*>(b.x.get_data_handle());
      float* yp = static_cast<float*>(b.out.get_data_handle());
      p.push_back(custom_step("residual_add_relu", [=] { residual_add_relu_forward(sc, lx, xp, ly, yp); }));
    }
    const float* outp = static_cast<const float*>(last_out.get_data_handle());
    p.push_back(
        custom_step("avgpool", [this, outp] { global_avgpool_forward(last_layout, outp, features); }));
    p.push_back(custom_step("running_stats", [this] { update_running_stats(); }));
  }

  void update_running_stats() {
    const double mom = spec.bn_momentum;
    for (Bn& b : bns) {
      const float* mean = static_cast<const float*>(b.mean.get_data_handle());
      const float* var = static_cast<const float*>(b.var.get_data_handle());
      float* rm = static_cast<float*>(b.running_mean.get_data_handle());
      float* rv = static_cast<float*>(b.running_var.get_data_handle());
      const double unbias = static_cast<double>(b.m) / static_cast<double>(b.m - 1);
      for (int64_t c = 0; c < b.c; ++c) {
        rm[c] = static_cast<float>((1.0 - mom) * rm[c] + mom * mean[c]);
        rv[c] = static_cast<float>((1.0 - mom) * rv[c] + mom * var[c] * unbias);
      }
    }
  }

  void build_backward() {
    Program& p = bwd;
    for (Conv& cv : convs) {
      if (cv.has_bwd_data && cv.bwd_data_w.get_data_handle() != cv.fwd_w.get_data_handle() &&
          cv.bwd_data_w.get_data_handle() != cv.user_w.get_data_handle())
        p.push_back(reorder_step("reorder_weights", cv.user_w, cv.bwd_data_w));
    }
    // Scratch rotation: `a` holds the gradient at the current block's output (already ReLU-masked).
    int a = 0;
    {
      const BlockedLayout l = last_layout;
      const float* y = static_cast<const float*>(last_out.get_data_handle());
      float* dx = bwd_raw[a]->p;
      p.push_back(custom_step("avgpool_relu_bwd",
                              [this, l, y, dx] { global_avgpool_relu_backward(l, y, dfeatures, dx); }));
    }
    for (int bi = static_cast<int>(blocks.size()) - 1; bi >= 0; --bi) {
      Block& b = blocks[bi];
      const int pb = (a + 1) % 3, pc = (a + 2) % 3;
      const Conv& c1 = convs[b.conv1];
      const Conv& c2 = convs[b.conv2];
      const memory d_out = scratch_view(a, c2.dst_md);
      const memory d_c2 = scratch_view(pb, c2.dst_md);
      const memory d_h1 = scratch_view(pc, c2.src_md);
      const memory d_c1 = scratch_view(pb, c1.dst_md);
      const memory d_x = scratch_view(pc, c1.src_md);
      p.push_back(bn_bwd_step(b.conv2, b.c2, d_out, d_c2));
      push_conv_bwd_w(p, b.conv2, b.h1, d_c2);
      p.push_back(conv_bwd_data_step(b.conv2, d_c2, d_h1));
      p.push_back(bn_bwd_step(b.conv1, b.c1, d_h1, d_c1));
      push_conv_bwd_w(p, b.conv1, b.x, d_c1);
      p.push_back(conv_bwd_data_step(b.conv1, d_c1, d_x));
      // The block input of block 0 is the stem's ReLU output, whose mask the stem's fused bn applies.
      const float* mask = bi > 0 ? static_cast<const float*>(b.x.get_data_handle()) : nullptr;
      const BlockedLayout ldy = layout_of(c2.dst_md), ldx = layout_of(c1.src_md);
      const ShortcutDims sc = b.sc;
      const float* dy = bwd_raw[a]->p;
      float* dx = bwd_raw[pc]->p;
      p.push_back(custom_step("residual_add_relu_bwd",
                              [=] { residual_add_relu_backward(sc, ldy, dy, ldx, dx, mask); }));
      a = pc;
    }
    const Conv& st = convs[0];
    const memory d_a = scratch_view(a, st.dst_md);
    const memory d_c = scratch_view((a + 1) % 3, st.dst_md);
    p.push_back(bn_bwd_step(0, stem_c, d_a, d_c));
    push_conv_bwd_w(p, 0, stem_src, d_c);
    for (Conv& cv : convs) {
      if (cv.prim_dw.get_data_handle() != cv.user_dw.get_data_handle() ||
          cv.prim_dw.get_desc() != cv.user_dw.get_desc())
        p.push_back(reorder_step("reorder_weight_grads", cv.prim_dw, cv.user_dw));
    }
  }

  // Inference: each batch norm is folded into the convolution before it (w' = w * s per output channel,
  // bias = beta - running_mean * s, s = gamma / sqrt(running_var + eps)) and ReLU and the residual sum run as
  // post-ops, so a block is two convolutions and nothing else. The identity shortcut is summed in place: the
  // second convolution writes onto the block input (oneDNN's sum post-op reads the old value first).
  struct EvalConv {
    dnnl::convolution_forward::primitive_desc pd;
    memory folded_w, w, bias;  // folded oihw weights, oneDNN's layout of them, bias [K]
    dnnl::primitive reorder;   // folded_w -> w when the layouts differ
    bool dirty = true;         // folded_w changed since the last reorder
  };
  std::vector<EvalConv> eval_convs;

  // Inference uses Winograd for every stride-1 convolution: without the backward passes it is ~10% faster
  // than direct at 16 channels too (measured), for ~34 MiB more scratchpad at batch 128.
  // spec.tuning.eval_direct keeps the training rule. Falls back to direct when oneDNN has no Winograd
  // kernel for the shape (the stem).
  dnnl::algorithm eval_algo(const Conv& cv) {
    if (spec.tuning.eval_direct) return cv.algo;
    return cv.d.stride == 1 ? dnnl::algorithm::convolution_winograd : cv.algo;
  }

  Step eval_conv_step(int i, const memory& src, const memory& dst, bool sum) {
    Conv& cv = convs[i];
    dnnl::post_ops po;
    if (sum) po.append_sum(1.0f);
    po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    dnnl::primitive_attr a;
    a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    a.set_post_ops(po);
    const ConvDims& d = cv.d;
    const memory::dims strides{d.stride, d.stride}, pad_l{1, 1};
    const memory::dims pad_r{(d.p - 1) * d.stride + 3 - d.h - 1, (d.q - 1) * d.stride + 3 - d.w - 1};
    const memory::desc wei_any({d.k, d.c, 3, 3}, dt::f32, tag::any), bias_md({d.k}, dt::f32, tag::x);
    EvalConv& e = eval_convs[i];
    try {
      dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_inference, eval_algo(cv), cv.src_md,
                                         wei_any, bias_md, cv.dst_md, strides, pad_l, pad_r);
      e.pd = dnnl::convolution_forward::primitive_desc(fd, a, eng);
    } catch (const dnnl::error&) {
      dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::convolution_direct, cv.src_md, wei_any, bias_md,
                                         cv.dst_md, strides, pad_l, pad_r);
      e.pd = dnnl::convolution_forward::primitive_desc(fd, a, eng);
    }
    const memory::desc oihw({d.k, d.c, 3, 3}, dt::f32, tag::oihw);
    e.folded_w = alloc(oihw);
    e.w = e.pd.weights_desc() == oihw ? e.folded_w : alloc(e.pd.weights_desc());
    e.bias = alloc(bias_md);
    Step s = prim_step(
        "conv_eval k" + std::to_string(d.k), e.pd,
        {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, e.w}, {DNNL_ARG_BIAS, e.bias}, {DNNL_ARG_DST, dst}});
    s.prim = dnnl::convolution_forward(e.pd);
    return s;
  }

  void fold_batchnorms() {
    const double eps = spec.bn_eps;
    for (size_t i = 0; i < convs.size(); ++i) {
      const Conv& cv = convs[i];
      const Bn& b = bns[i];
      EvalConv& e = eval_convs[i];
      const float* w = static_cast<const float*>(cv.user_w.get_data_handle());
      const float* gamma = static_cast<const float*>(b.scale.get_data_handle());
      const float* beta = static_cast<const float*>(b.shift.get_data_handle());
      const float* rm = static_cast<const float*>(b.running_mean.get_data_handle());
      const float* rv = static_cast<const float*>(b.running_var.get_data_handle());
      float* fw = static_cast<float*>(e.folded_w.get_data_handle());
      float* bias = static_cast<float*>(e.bias.get_data_handle());
      const int64_t per_k = cv.d.c * 9;
      // Written only where a value changes, so that an evaluation pass over many batches with the same
      // parameters reorders the weights (a Winograd transform for most layers) once, not per batch.
      bool changed = false;
      for (int64_t k = 0; k < cv.d.k; ++k) {
        const double sc = gamma[k] / std::sqrt(static_cast<double>(rv[k]) + eps);
        for (int64_t j = 0; j < per_k; ++j) {
          const float v = static_cast<float>(w[k * per_k + j] * sc);
          if (fw[k * per_k + j] != v) {
            fw[k * per_k + j] = v;
            changed = true;
          }
        }
        bias[k] = static_cast<float>(beta[k] - rm[k] * sc);
      }
      if (changed) e.dirty = true;
    }
  }

  void build_forward_eval() {
    Program& p = fwd_eval;
    eval_convs.resize(convs.size());
    Program convs_prog;
    if (reorder_input) convs_prog.push_back(reorder_step("reorder_input", user_x, stem_src));
    convs_prog.push_back(eval_conv_step(0, stem_src, stem_a, false));
    memory x = stem_a;
    for (Block& b : blocks) {
      const Conv& c2 = convs[b.conv2];
      convs_prog.push_back(eval_conv_step(b.conv1, x, b.h1, false));
      const bool identity = b.sc.stride == 1 && b.sc.pad == 0 && x.get_desc() == c2.dst_md;
      if (identity) {
        convs_prog.push_back(eval_conv_step(b.conv2, b.h1, x, true));
      } else {
        const BlockedLayout lx = layout_of(x.get_desc()), ly = layout_of(b.out.get_desc());
        const ShortcutDims sc = b.sc;
        const float* xp = static_cast<const float*>(x.get_data_handle());
        float* yp = static_cast<float*>(b.out.get_data_handle());
        convs_prog.push_back(custom_step("shortcut_fill", [=] { shortcut_fill(sc, lx, xp, ly, yp); }));
        convs_prog.push_back(eval_conv_step(b.conv2, b.h1, b.out, true));
        x = b.out;
      }
    }
    // Parameters and running statistics may change between calls: fold and reorder every call.
    p.push_back(custom_step("fold_batchnorm", [this] { fold_batchnorms(); }));
    for (EvalConv& e : eval_convs) {
      if (e.w.get_data_handle() == e.folded_w.get_data_handle()) continue;
      e.reorder = dnnl::reorder(e.folded_w, e.w);
      EvalConv* ep = &e;
      p.push_back(custom_step("reorder_weights", [this, ep] {
        if (!ep->dirty) return;
        ep->reorder.execute(strm, {{DNNL_ARG_FROM, ep->folded_w}, {DNNL_ARG_TO, ep->w}});
        ep->dirty = false;
      }));
    }
    for (Step& st : convs_prog) p.push_back(std::move(st));
    const BlockedLayout lo = layout_of(x.get_desc());
    const float* outp = static_cast<const float*>(x.get_data_handle());
    p.push_back(custom_step("avgpool", [this, lo, outp] { global_avgpool_forward(lo, outp, features); }));
  }

  // One scratchpad shared by every primitive (they run one at a time), sized for the largest.
  void attach_scratchpad() {
    size_t biggest = 0;
    for (Program* prog : {&fwd_train, &bwd, &fwd_eval}) {
      for (Step& s : *prog) {
        if (s.needs_scratchpad) biggest = std::max(biggest, s.scratchpad_md.get_size());
      }
    }
    scratchpad = std::make_unique<Buffer>(biggest);
    for (Program* prog : {&fwd_train, &bwd, &fwd_eval}) {
      for (Step& s : *prog) {
        if (s.needs_scratchpad) s.args[DNNL_ARG_SCRATCHPAD] = memory(s.scratchpad_md, eng, scratchpad->p);
      }
    }
  }

  void bind(const TrunkParams& params) {
    const size_t layers = convs.size();
    if (params.convs.size() != layers || params.bns.size() != layers)
      throw std::invalid_argument("dnnl trunk: parameter table does not match the network depth");
    for (size_t i = 0; i < layers; ++i) {
      convs[i].user_w.set_data_handle(const_cast<float*>(params.convs[i].weight));
      convs[i].user_dw.set_data_handle(params.convs[i].grad);
      const BnParams& bp = params.bns[i];
      bns[i].scale.set_data_handle(const_cast<float*>(bp.weight));
      bns[i].shift.set_data_handle(const_cast<float*>(bp.bias));
      bns[i].running_mean.set_data_handle(bp.running_mean);
      bns[i].running_var.set_data_handle(bp.running_var);
      bns[i].dscale.set_data_handle(bp.weight_grad);
      bns[i].dshift.set_data_handle(bp.bias_grad);
    }
  }

  void run(Program& prog) {
    for (Step& s : prog) {
      const double t0 = profile ? cpu_now() : 0.0;
      if (s.fn) {
        s.fn();
      } else {
        try {
          s.prim.execute(strm, s.args);
        } catch (const dnnl::error& e) {
          throw std::runtime_error("dnnl trunk: step " + s.name + " failed: " + e.what());
        }
      }
      if (profile) {
        strm.wait();
        auto& e = prof[s.name];
        e.first += cpu_now() - t0;
        e.second += 1;
      }
    }
    strm.wait();
  }
};

Trunk::Trunk(const TrunkSpec& spec, int64_t batch) : impl_(std::make_unique<Impl>(spec, batch)) {}
Trunk::~Trunk() = default;
int64_t Trunk::batch() const { return impl_->batch; }
const TrunkSpec& Trunk::spec() const { return impl_->spec; }

void Trunk::forward_train(const TrunkParams& params, const float* x, float* features) {
  impl_->bind(params);
  impl_->user_x.set_data_handle(const_cast<float*>(x));
  impl_->features = features;
  impl_->run(impl_->fwd_train);
}

void Trunk::backward(const TrunkParams& params, const float* dfeatures) {
  impl_->bind(params);
  impl_->dfeatures = dfeatures;
  impl_->run(impl_->bwd);
}

void Trunk::forward_eval(const TrunkParams& params, const float* x, float* features) {
  impl_->bind(params);
  impl_->user_x.set_data_handle(const_cast<float*>(x));
  impl_->features = features;
  impl_->run(impl_->fwd_eval);
}

std::vector<std::string> Trunk::implementations() const {
  std::vector<std::string> out;
  for (const Program* prog : {&impl_->fwd_train, &impl_->bwd, &impl_->fwd_eval}) {
    for (const Step& s : *prog) {
      if (s.impl.empty()) continue;
      const std::string line = s.name + ": " + s.impl;
      if (std::find(out.begin(), out.end(), line) == out.end()) out.push_back(line);
    }
  }
  return out;
}

int64_t Trunk::memory_bytes() const {
  int64_t total = 0;
  for (const auto& b : impl_->buffers) total += static_cast<int64_t>(b->bytes);
  if (impl_->scratchpad) total += static_cast<int64_t>(impl_->scratchpad->bytes);
  return total;
}

std::string Trunk::profile_report() const {
  std::ostringstream os;
  for (const auto& [name, e] : impl_->prof) os << name << " " << e.first << " s " << e.second << " calls\n";
  return os.str();
}

TrunkSpec trunk_spec(const Topology& topology) {
  const NetworkSpec& s = topology.spec;
  TrunkSpec t;
  t.channels = s.in_channels;
  t.height = t.width = s.side;
  t.stem_planes = topology.layers.front().c_out;
  t.blocks = topology.blocks;
  t.bn_momentum = s.bn_momentum;
  t.bn_eps = s.bn_eps;
  return t;
}

TrunkParams trunk_params(const Topology& topology, float* params, float* grads, float* running_stats) {
  auto param = [&](const std::string& name) {
    const TensorInfo* t = find_tensor(topology.parameters, name);
    if (!t) throw std::logic_error("dnnl trunk: the topology has no parameter " + name);
    return t->offset;
  };
  auto buffer = [&](const std::string& name) {
    const TensorInfo* t = find_tensor(topology.buffers, name);
    if (!t) throw std::logic_error("dnnl trunk: the topology has no buffer " + name);
    return t->offset;
  };
  TrunkParams tp;
  // Every convolution and batch norm before the head, in forward order (the plan's order).
  for (const TopologyLayer& l : topology.layers) {
    if (l.kind == LayerKind::kConv) {
      const int64_t w = param(l.name + ".weight");
      tp.convs.push_back(ConvParams{params + w, grads + w});
    } else if (l.kind == LayerKind::kBatchNorm) {
      const int64_t g = param(l.name + ".weight"), b = param(l.name + ".bias");
      tp.bns.push_back(BnParams{params + g, params + b, running_stats + buffer(l.name + ".running_mean"),
                                running_stats + buffer(l.name + ".running_var"), grads + g, grads + b});
    }
  }
  return tp;
}

std::string dnnl_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    default:
      return "other";
  }
}

std::string dnnl_cpu_runtime() {
  switch (dnnl_version()->cpu_runtime) {
    case DNNL_RUNTIME_OMP:
      return "omp";
    case DNNL_RUNTIME_TBB:
      return "tbb";
    case DNNL_RUNTIME_SEQ:
      return "seq";
    case DNNL_RUNTIME_THREADPOOL:
      return "threadpool";
    default:
      return "other";
  }
}

}  // namespace eos::dnnl_backend
