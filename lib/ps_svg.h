/* Flame graphs as self-contained interactive SVG (pyspy-svg).
 *
 * Samples are aggregated into a tree: a trie of frame texts, identical
 * texts at the same position under the same parent merged (as
 * flamegraph.pl merges collapsed stacks), children ordered by text. The
 * tree is laid out (one box per frame, width proportional to samples) and
 * written as SVG with an embedded script for hover details, click-to-zoom
 * and regular-expression search; lib/ps_svg.c describes the document.
 *
 * A tree is fed either directly (ps_svg_tree_add: texts per frame, for
 * tests and other front ends) or from a sample stream (ps_svg_tree_sample
 * while reading, then ps_svg_tree_resolve once at the end: samples are
 * counted by stack id and each distinct stack is resolved only once). */
#ifndef PS_SVG_H
#define PS_SVG_H

#include <stdint.h>
#include <stdio.h>

#include "ps_filter.h"
#include "ps_stream.h"

/* Frame kinds: the stream's enum ps_frame_kind, plus the synthetic root
 * frames of --threads / --pids. */
enum ps_svg_kind {
	PS_SVG_PYTHON = PS_FRAME_PYTHON,
	PS_SVG_NATIVE = PS_FRAME_NATIVE,
	PS_SVG_MARKER = PS_FRAME_MARKER,
	PS_SVG_GROUP = 16,      /* "thread TID: NAME", "process PID: CMD" */
};

/* Flags of ps_svg_tree_add. */
enum ps_svg_flags {
	PS_SVG_IDLE = 1 << 0,   /* the samples were idle (drawn grey when all are) */
};

struct ps_svg_frame {
	const char *text;       /* what the box shows: NAME (FILE:LINE) */
	const char *file;       /* for --colors module; NULL when none */
	unsigned kind;          /* enum ps_svg_kind */
};

struct ps_svg_tree;

/* f selects how samples are rooted and named (threads, pids, no_lines) for
 * ps_svg_tree_sample; NULL for a tree fed only by ps_svg_tree_add. */
struct ps_svg_tree *ps_svg_tree_new(const struct ps_filter *f);
void ps_svg_tree_free(struct ps_svg_tree *t);

/* Add count samples of one stack of n frames, root first (n 0 is allowed:
 * samples with no frames count in the root only). Texts and files are
 * copied. PS_ENOMEM, or PS_EUSAGE for NULL texts. */
int ps_svg_tree_add(struct ps_svg_tree *t, const struct ps_svg_frame *frames, size_t n,
		    uint64_t count, unsigned flags);

/* Count one sample of reader r (already accepted by the filter) in a
 * ps_fold table that keeps idle samples apart; a sample without a stack is
 * left out, as pyspy-fold does. */
int ps_svg_tree_sample(struct ps_svg_tree *t, const struct ps_sr *r,
		       const struct ps_sr_sample *s);
/* Add the samples counted by ps_svg_tree_sample to the tree, reading the
 * stacks from r (which must still be open). Frame texts follow
 * ps_fold_frame_text, so a box shows what a line of pyspy-fold shows. */
int ps_svg_tree_resolve(struct ps_svg_tree *t, const struct ps_sr *r);

/* Samples in the tree, and the span of the sample times counted by
 * ps_svg_tree_sample (0 when none). */
uint64_t ps_svg_tree_total(const struct ps_svg_tree *t);
uint64_t ps_svg_tree_span_ns(const struct ps_svg_tree *t);

enum ps_svg_colors {
	PS_SVG_COLORS_MODULE,   /* a hue per module: file or top-level package */
	PS_SVG_COLORS_HOT,      /* flamegraph.pl's warm colours, from the name */
	PS_SVG_COLORS_MONO,     /* one hue, shades from the name */
};

#define PS_SVG_DEFAULT_TITLE "pyspy flame graph"
#define PS_SVG_DEFAULT_WIDTH 1200.0
#define PS_SVG_DEFAULT_MIN_WIDTH 0.2

struct ps_svg_opts {
	const char *title;      /* NULL: PS_SVG_DEFAULT_TITLE */
	const char *subtitle;   /* NULL or "": none */
	double width;           /* of the image, px */
	double min_width;       /* px: narrower frames are dropped with their subtree */
	int reverse;            /* icicle: root at the top */
	enum ps_svg_colors colors;
};

/* The defaults: width 1200, min_width 0.2, module colours. */
void ps_svg_opts_init(struct ps_svg_opts *o);

/* "module", "hot", "mono": PS_OK, else PS_EINVAL. */
int ps_svg_parse_colors(const char *s, enum ps_svg_colors *out);

/* The layout: boxes in depth-first order, parents before children, the
 * root ("all") first. Coordinates are rounded to 0.1 px, each edge on
 * its own, so a child never sticks out of its parent. */
struct ps_svg_box {
	const char *name;       /* owned by the tree */
	const char *module;     /* the colour key (file or package), NULL if none */
	uint64_t samples;
	uint32_t depth;         /* 0: the root */
	uint32_t parent;        /* index of the parent box (the root: 0) */
	unsigned kind;          /* enum ps_svg_kind */
	int idle;               /* every sample of the frame was idle */
	double x, y, w;         /* px */
	char fill[8];           /* "#rrggbb" */
};

struct ps_svg_layout {
	struct ps_svg_box *box;
	size_t n;
	uint32_t depth;         /* deepest box drawn */
	double width, height;   /* of the image */
	double frames_x, frames_w;   /* the root box */
};

int ps_svg_layout(const struct ps_svg_tree *t, const struct ps_svg_opts *o,
		  struct ps_svg_layout *l);
void ps_svg_layout_release(struct ps_svg_layout *l);

/* The fill of a frame: deterministic in (mode, name, module); native frames
 * blue, idle frames and markers grey, in every mode. out gets "#rrggbb". */
void ps_svg_color(enum ps_svg_colors mode, const char *name, const char *module,
		  unsigned kind, int idle, char out[8]);

/* The colour key of a file: the top-level package for a file under
 * site-packages or dist-packages ("numpy"), else the file itself. Writes
 * into buf (cap), returns buf. */
const char *ps_svg_module_key(const char *file, char *buf, size_t cap);

/* The subtitle from a stream header: "CMD · Python X.Y.Z · 5.0 s ·
 * 500 samples · 100 Hz" (parts that are unknown are left out; the command
 * is cut with ".." past max_cmd characters). Raw text: ps_svg_write escapes
 * it. Returns buf. */
const char *ps_svg_subtitle(char *buf, size_t cap, const struct ps_stream_header *h,
			    uint64_t duration_ns, uint64_t samples, size_t max_cmd);

/* Write the SVG document. PS_EIO when out failed. */
int ps_svg_write(const struct ps_svg_tree *t, const struct ps_svg_opts *o, FILE *out);

/* Write s (n bytes, any bytes) as XML character data safe in text and in
 * attribute values: invalid UTF-8 as U+FFFD, control characters and the
 * XML noncharacters U+FFFE/U+FFFF as '?', & < > " ' as references. */
void ps_svg_escape(FILE *out, const char *s, size_t n);

#endif
