#include "k8s/json_select.h"

#include <boost/json/basic_parser_impl.hpp>
#include <limits>

namespace drop::k8s {

namespace json = boost::json;

namespace {

const JsonSelection kEverything;

bool IsSpace(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

}  // namespace

Result<JsonSelection> JsonSelection::Parse(std::string_view text) {
  JsonSelection out;
  size_t pos = 0;
  if (Status s = ParseMembers(text, &pos, false, &out); !s.ok()) return s;
  return out;
}

Status JsonSelection::ParseMembers(std::string_view text, size_t* pos, bool nested,
                                   JsonSelection* out) {
  out->all_ = false;
  while (true) {
    while (*pos < text.size() && IsSpace(text[*pos]))
      ++*pos;
    if (*pos == text.size()) {
      if (!nested) return Status::Ok();
      return Status::InvalidArgument("JSON selection \"" + std::string(text) +
                                     "\": a '{' is not closed");
    }
    if (text[*pos] == '}') {
      if (nested) {
        ++*pos;
        return Status::Ok();
      }
      return Status::InvalidArgument("JSON selection \"" + std::string(text) +
                                     "\": a '}' at offset " + std::to_string(*pos) +
                                     " closes nothing");
    }
    if (text[*pos] == '{') {
      return Status::InvalidArgument("JSON selection \"" + std::string(text) +
                                     "\": a '{' at offset " + std::to_string(*pos) +
                                     " follows no member name");
    }
    size_t begin = *pos;
    while (*pos < text.size() && !IsSpace(text[*pos]) && text[*pos] != '{' && text[*pos] != '}')
      ++*pos;
    std::string name(text.substr(begin, *pos - begin));
    JsonSelection member;
    if (*pos < text.size() && text[*pos] == '{') {
      ++*pos;
      if (Status s = ParseMembers(text, pos, true, &member); !s.ok()) return s;
    }
    out->members_.emplace_back(std::move(name), std::move(member));
    // A name written twice: the first wins, as Member() looks it up.
  }
}

const JsonSelection* JsonSelection::Member(std::string_view key) const {
  if (all_) return this;
  for (const auto& [name, selection] : members_) {
    if (name == key) return &selection;
  }
  return nullptr;
}

// Builds the value on a json::value_stack, as Boost.JSON's own stream_parser does, except for
// values whose member is not selected: those are skipped, nested containers and all.
class SelectiveParser::Handler {
 public:
  static constexpr size_t max_object_size = std::numeric_limits<size_t>::max();
  static constexpr size_t max_array_size = std::numeric_limits<size_t>::max();
  static constexpr size_t max_key_size = std::numeric_limits<size_t>::max();
  static constexpr size_t max_string_size = std::numeric_limits<size_t>::max();

  explicit Handler(const JsonSelection* root) : root_(root != nullptr ? root : &kEverything) {}

  void Reset(json::storage_ptr sp) {
    st.reset(std::move(sp));
    frames_.clear();
    key_.clear();
    skipping_ = 0;
    member_ = root_;
  }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return Open(false); }
  bool on_object_end(size_t, json::error_code&) { return Close(false); }
  bool on_array_begin(json::error_code&) { return Open(true); }
  bool on_array_end(size_t, json::error_code&) { return Close(true); }

  bool on_key_part(json::string_view s, size_t, json::error_code&) {
    if (skipping_ == 0) key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, size_t, json::error_code&) {
    if (skipping_ > 0) return true;
    std::string_view key(s.data(), s.size());
    if (!key_.empty()) {
      key_.append(key);
      key = key_;
    }
    member_ = frames_.back().selection->Member(key);
    if (member_ != nullptr) st.push_key(key);
    key_.clear();
    return true;
  }

  bool on_string_part(json::string_view s, size_t, json::error_code&) {
    if (Keep()) st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, size_t, json::error_code&) {
    return Scalar([&] { st.push_string(s); });
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t v, json::string_view, json::error_code&) {
    return Scalar([&] { st.push_int64(v); });
  }
  bool on_uint64(uint64_t v, json::string_view, json::error_code&) {
    return Scalar([&] { st.push_uint64(v); });
  }
  bool on_double(double v, json::string_view, json::error_code&) {
    return Scalar([&] { st.push_double(v); });
  }
  bool on_bool(bool v, json::error_code&) {
    return Scalar([&] { st.push_bool(v); });
  }
  bool on_null(json::error_code&) {
    return Scalar([&] { st.push_null(); });
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

  json::value_stack st;

 private:
  // An open object or array that is being kept.
  struct Frame {
    const JsonSelection* selection;  // of its members, or of each element
    bool array;
    size_t kept = 0;  // members or elements kept so far
  };

  // The value starting now is kept: its member is selected (an element is, when its array is).
  bool Keep() const { return skipping_ == 0 && member_ != nullptr; }

  // A string, number, true, false or null: pushed by `push` when kept.
  template <typename Push>
  bool Scalar(Push push) {
    if (Keep()) {
      push();
      Kept();
    }
    return true;
  }

  bool Open(bool array) {
    if (!Keep()) {
      ++skipping_;
      return true;
    }
    frames_.push_back(Frame{member_, array});
    return true;
  }

  bool Close(bool array) {
    if (skipping_ > 0) {
      --skipping_;
      return true;
    }
    size_t n = frames_.back().kept;
    frames_.pop_back();
    if (array) {
      st.push_array(n);
    } else {
      st.push_object(n);
    }
    Kept();
    return true;
  }

  // A kept value is complete: count it, and in an array, the next element has the same selection.
  void Kept() {
    if (frames_.empty()) return;
    Frame& parent = frames_.back();
    ++parent.kept;
    if (parent.array) member_ = parent.selection;
  }

  const JsonSelection* root_;
  std::vector<Frame> frames_;
  std::string key_;                        // a key that arrives in parts
  int skipping_ = 0;                       // depth inside a value being skipped
  const JsonSelection* member_ = nullptr;  // of the value that starts next; nullptr: skip it
};

struct SelectiveParser::Parser {
  explicit Parser(const JsonSelection* selection) : p(json::parse_options(), selection) {}
  json::basic_parser<Handler> p;
};

json::value SelectiveParser::Parse(std::string_view text, const JsonSelection* selection,
                                   json::error_code& ec) {
  SelectiveParser parser(selection);
  size_t used = parser.write_some(text.data(), text.size(), ec);
  if (!ec && !parser.done()) ec = json::error::incomplete;
  if (!ec && text.find_first_not_of(" \t\r\n", used) != std::string_view::npos) {
    ec = json::error::extra_data;
  }
  return ec ? json::value() : parser.release();
}

SelectiveParser::SelectiveParser(const JsonSelection* selection)
    : parser_(std::make_unique<Parser>(selection)) {
  reset();
}

SelectiveParser::~SelectiveParser() = default;

void SelectiveParser::reset(json::storage_ptr sp) {
  parser_->p.reset();
  parser_->p.handler().Reset(std::move(sp));
}

size_t SelectiveParser::write_some(const char* data, size_t size, json::error_code& ec) {
  return parser_->p.write_some(true, data, size, ec);
}

bool SelectiveParser::done() const {
  return parser_->p.done();
}

json::value SelectiveParser::release() {
  return parser_->p.handler().st.release();
}

}  // namespace drop::k8s
