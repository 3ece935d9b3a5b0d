#include "kv/radix_tree.h"

#include <stdexcept>
#include <string>

namespace latent::kv {

Node* RadixTree::find(const Node* parent, uint64_t key, const std::vector<int32_t>& tokens) const {
  auto it = nodes_.find(key);
  if (it == nodes_.end()) return nullptr;
  Node* n = it->second.get();
  if (n->parent != parent || n->tokens != tokens) return nullptr;  // a 64-bit collision
  return n;
}

Node* RadixTree::insert(Node* parent, uint64_t key, std::vector<int32_t> tokens, PageId page) {
  if (nodes_.count(key)) throw std::logic_error("radix tree: key inserted twice");
  auto node = std::make_unique<Node>();
  Node* n = node.get();
  n->key = key;
  n->parent = parent;
  n->tokens = std::move(tokens);
  n->page = page;
  n->last_access = ++tick_;
  nodes_.emplace(key, std::move(node));
  if (parent) {
    parent->n_children++;
    update_evictable(parent);
  }
  update_evictable(n);
  return n;
}

void RadixTree::update_evictable(Node* n) {
  // Entries are keyed by the access time they were inserted with; touch() erases before it
  // changes the time, so erasing under the current time always finds a stale entry.
  evictable_.erase({n->last_access, n});
  if (n->lock_ref == 0 && n->n_children == 0) evictable_.insert({n->last_access, n});
}

void RadixTree::lock(Node* n) {
  for (Node* p = n; p; p = p->parent) {
    p->lock_ref++;
    update_evictable(p);
  }
}

void RadixTree::unlock(Node* n) {
  for (Node* p = n; p; p = p->parent) {
    if (p->lock_ref <= 0) throw std::logic_error("radix tree: unlock of an unlocked page");
    p->lock_ref--;
    update_evictable(p);
  }
}

void RadixTree::touch(Node* n) {
  const uint64_t t = ++tick_;
  for (Node* p = n; p; p = p->parent) {
    evictable_.erase({p->last_access, p});
    p->last_access = t;
    update_evictable(p);
  }
}

Node* RadixTree::lru_evictable() const { return evictable_.empty() ? nullptr : evictable_.begin()->second; }

PageId RadixTree::remove_leaf(Node* n) {
  if (n->lock_ref != 0 || n->n_children != 0) throw std::logic_error("radix tree: evicting a page in use");
  evictable_.erase({n->last_access, n});
  Node* parent = n->parent;
  PageId page = n->page;
  nodes_.erase(n->key);
  if (parent) {
    parent->n_children--;
    update_evictable(parent);
  }
  return page;
}

void RadixTree::for_each(const std::function<void(const Node&)>& fn) const {
  for (const auto& [k, n] : nodes_) fn(*n);
}

std::string RadixTree::check_invariants(const std::vector<const Node*>& held_locks) const {
  std::unordered_map<const Node*, int64_t> expected_locks, children;
  for (const Node* h : held_locks)
    for (const Node* p = h; p; p = p->parent) expected_locks[p]++;
  for (const auto& [k, n] : nodes_) {
    if (n->key != k) return "node stored under another key";
    if (n->parent) {
      if (!nodes_.count(n->parent->key) || nodes_.at(n->parent->key).get() != n->parent) return "dangling parent";
      children[n->parent]++;
    }
  }
  size_t evictable = 0;
  for (const auto& [k, n] : nodes_) {
    const Node* p = n.get();
    if (p->lock_ref != expected_locks[p])
      return "page " + std::to_string(p->page) + " has lock_ref " + std::to_string(p->lock_ref) + ", expected " +
             std::to_string(expected_locks[p]);
    if (p->n_children != children[p]) return "child count mismatch";
    bool should = p->lock_ref == 0 && p->n_children == 0;
    bool is = evictable_.count({p->last_access, const_cast<Node*>(p)}) > 0;
    if (should != is) return "evictable set out of date for page " + std::to_string(p->page);
    evictable += should;
  }
  if (evictable != evictable_.size()) return "evictable set holds removed nodes";
  return {};
}

}  // namespace latent::kv
