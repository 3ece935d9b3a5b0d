#include "server/event_loop.h"

#include <set>
#include <stdexcept>
#include <string>

namespace latent::daemon {

struct EventLoop::Timer::State {
  uv_timer_t handle;
  std::function<void()> fn;
  bool closed = false;
  std::shared_ptr<State> self;  // keeps the state alive until libuv's close callback
  std::set<State*>* registry = nullptr;

  void close() {
    if (closed) return;
    closed = true;
    if (registry) registry->erase(this);
    uv_timer_stop(&handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&handle), [](uv_handle_t* h) {
      auto* s = static_cast<State*>(h->data);
      s->self.reset();
    });
  }
};

namespace {
std::set<EventLoop::Timer::State*>& timers_of(void* loop_data) {
  return *static_cast<std::set<EventLoop::Timer::State*>*>(loop_data);
}
}  // namespace

EventLoop::EventLoop() : owner_(std::this_thread::get_id()) {
  if (int rc = uv_loop_init(&loop_); rc != 0)
    throw std::runtime_error(std::string("cannot initialise the event loop: ") + uv_strerror(rc));
  loop_.data = new std::set<Timer::State*>();
  uv_async_init(&loop_, &async_, &EventLoop::on_async);
  async_.data = this;
}

EventLoop::~EventLoop() {
  if (!stopped_handles_) {
    stop_requested_and_close();
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop_);
  delete &timers_of(loop_.data);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (stopped_handles_flag_) return;
    queue_.push_back(std::move(fn));
  }
  uv_async_send(&async_);
}

void EventLoop::on_async(uv_async_t* handle) {
  auto* self = static_cast<EventLoop*>(handle->data);
  self->drain();
  if (self->stopping_.load()) self->stop_requested_and_close();
}

void EventLoop::drain() {
  for (;;) {
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(queue_);
    }
    if (batch.empty()) return;
    for (auto& fn : batch) fn();
  }
}

void EventLoop::stop_requested_and_close() {
  if (stopped_handles_) return;
  stopped_handles_ = true;
  auto hooks = std::move(stop_hooks_);
  for (auto& fn : hooks) fn();
  drain();
  {
    std::lock_guard lock(mu_);
    stopped_handles_flag_ = true;
    queue_.clear();
  }
  auto& timers = timers_of(loop_.data);
  while (!timers.empty()) (*timers.begin())->close();
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
}

void EventLoop::run() {
  owner_ = std::this_thread::get_id();
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void EventLoop::stop() {
  stopping_.store(true);
  uv_async_send(&async_);
}

bool EventLoop::on_loop_thread() const { return std::this_thread::get_id() == owner_; }

void EventLoop::on_stop(std::function<void()> fn) { stop_hooks_.push_back(std::move(fn)); }

EventLoop::Timer::~Timer() { cancel(); }

void EventLoop::Timer::cancel() {
  if (state_) state_->close();
  state_.reset();
}

std::unique_ptr<EventLoop::Timer> EventLoop::after(uint64_t ms, std::function<void()> fn) {
  auto timer = std::unique_ptr<Timer>(new Timer());
  auto state = std::make_shared<Timer::State>();
  state->fn = std::move(fn);
  state->self = state;
  state->handle.data = state.get();
  if (stopped_handles_) {
    state->closed = true;
    state->self.reset();
    return timer;
  }
  uv_timer_init(&loop_, &state->handle);
  auto& timers = timers_of(loop_.data);
  timers.insert(state.get());
  state->registry = &timers;
  uv_timer_start(&state->handle, [](uv_timer_t* h) {
    auto* s = static_cast<Timer::State*>(h->data);
    // Keep the state alive while fn runs: fn may destroy the Timer that owns it.
    std::shared_ptr<Timer::State> keep = s->self;
    auto fn = std::move(s->fn);
    s->close();
    if (fn) fn();
  }, ms, 0);
  timer->state_ = std::move(state);
  return timer;
}

}  // namespace latent::daemon
