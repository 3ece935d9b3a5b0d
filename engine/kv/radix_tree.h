// The radix tree of cached latent pages. Each node is one full page of a token prefix, keyed by
// the hash chain of page contents (fingerprint.h), so a child's key already names its whole
// prefix. The tree stores page ids, never tensors (the pool owns the memory).
//
// Lock references propagate to the root: a sequence using the path root..n locks n, which adds
// one to n and to every ancestor. Only unlocked leaves are evictable, least recently used first.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <unordered_map>
#include <vector>

#include "backend/page_pool.h"

namespace latent::kv {

using backend::PageId;

struct Node {
  uint64_t key = 0;
  Node* parent = nullptr;  // nullptr: a first page (child of the implicit root)
  int64_t n_children = 0;
  std::vector<int32_t> tokens;  // the page's tokens, compared on lookup to rule out collisions
  PageId page = -1;
  int64_t lock_ref = 0;
  uint64_t last_access = 0;
  bool on_disk = false;  // the disk tier already holds this page
};

class RadixTree {
 public:
  // The resident child of `parent` (nullptr: root) for these page tokens, or nullptr.
  Node* find(const Node* parent, uint64_t key, const std::vector<int32_t>& tokens) const;
  Node* insert(Node* parent, uint64_t key, std::vector<int32_t> tokens, PageId page);

  void lock(Node* n);
  void unlock(Node* n);
  // Marks the path root..n as just used.
  void touch(Node* n);

  // The least recently used unlocked leaf, or nullptr when every page is in use.
  Node* lru_evictable() const;
  // Removes an unlocked leaf; returns its page id (the caller releases it).
  PageId remove_leaf(Node* n);

  int64_t size() const { return int64_t(nodes_.size()); }
  int64_t evictable_count() const { return int64_t(evictable_.size()); }
  void for_each(const std::function<void(const Node&)>& fn) const;

  // Recomputes lock references from the locks held (one entry per locked deepest node) and
  // checks them, the child counts and the evictable set. Returns an empty string when consistent.
  std::string check_invariants(const std::vector<const Node*>& held_locks) const;

 private:
  void update_evictable(Node* n);

  std::unordered_map<uint64_t, std::unique_ptr<Node>> nodes_;
  std::set<std::pair<uint64_t, Node*>> evictable_;  // (last_access, node)
  uint64_t tick_ = 0;
};

}  // namespace latent::kv
