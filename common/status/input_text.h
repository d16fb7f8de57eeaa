// File: common/status/input_text.h
//
// Client-supplied text in error messages and path fields. Every string a
// client or a file sends is hostile: a message quotes at most a short prefix
// of it (a 1 MB path echoed whole would not even fit in gRPC's metadata), and
// a path must be short and free of NUL bytes (the C library would silently
// open the name cut at the NUL).
//
// Pure functions; thread-safe.

#ifndef ITERD_COMMON_STATUS_INPUT_TEXT_H_
#define ITERD_COMMON_STATUS_INPUT_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace iterd {

// Longest path a client may send (Linux's PATH_MAX).
inline constexpr size_t kMaxPathBytes = 4096;
// Longest prefix of client text quoted in a message.
inline constexpr size_t kMaxQuotedBytes = 128;

// 'text' in single quotes; text longer than kMaxQuotedBytes is cut and
// followed by "..." after the quote; control bytes (NUL, newline, ...) are
// shown as \xNN so that a message never forges a log line.
std::string QuoteInput(absl::string_view text);

// `text` with control bytes as \xNN (uncut, unquoted): client text kept for
// log lines and metric labels, such as a client's self-description.
std::string EscapedInput(absl::string_view text);

// Longest tail of a file name shown in a message.
inline constexpr size_t kMaxShownNameBytes = 256;

// A file name (relative to its data root) as messages show it, unquoted, in
// "file:line: ..." style: control bytes as \xNN; a name longer than
// kMaxShownNameBytes keeps its end (where the file's own name is), after
// "...".
std::string ShownName(absl::string_view name);

// Longest error message passed on to a client (gRPC sends it as metadata).
inline constexpr size_t kMaxMessageBytes = 2048;

// `message` with control bytes as \xNN, cut to kMaxMessageBytes and "...":
// the last net for messages that hold text read from files (an .npz listing
// its member names, say).
std::string BoundedMessage(absl::string_view message);

// InvalidArgument naming `field` when `path` holds a NUL byte or is longer
// than kMaxPathBytes; OK otherwise (the empty path too: whether a path is
// required is the caller's business).
absl::Status CheckPathText(absl::string_view field, absl::string_view path);

}  // namespace iterd

#endif  // ITERD_COMMON_STATUS_INPUT_TEXT_H_
