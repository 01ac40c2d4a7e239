/* The C compile workload of bench/engines/run.sh: a small, ordinary program
 * (a word counter with a hash table, a sort and a few string helpers) that
 * gcc compiles and links inside each container. It is baked into the Debian
 * image as /bench/prog.c. Running it is not part of the benchmark. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TABLE_BITS 12
#define TABLE_SIZE (1u << TABLE_BITS)
#define MAX_WORD 64

struct entry {
  char *word;
  unsigned long count;
  struct entry *next;
};

struct table {
  struct entry *slots[TABLE_SIZE];
  size_t used;
};

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    perror("malloc");
    exit(2);
  }
  return p;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = xmalloc(n);
  memcpy(p, s, n);
  return p;
}

/* FNV-1a, 32 bits. */
static uint32_t hash(const char *s) {
  uint32_t h = 2166136261u;
  while (*s) {
    h ^= (unsigned char)*s++;
    h *= 16777619u;
  }
  return h;
}

static struct table *table_new(void) {
  struct table *t = xmalloc(sizeof *t);
  memset(t, 0, sizeof *t);
  return t;
}

static void table_add(struct table *t, const char *word) {
  uint32_t h = hash(word) & (TABLE_SIZE - 1);
  struct entry *e;
  for (e = t->slots[h]; e; e = e->next) {
    if (strcmp(e->word, word) == 0) {
      e->count++;
      return;
    }
  }
  e = xmalloc(sizeof *e);
  e->word = xstrdup(word);
  e->count = 1;
  e->next = t->slots[h];
  t->slots[h] = e;
  t->used++;
}

static void table_free(struct table *t) {
  size_t i;
  for (i = 0; i < TABLE_SIZE; i++) {
    struct entry *e = t->slots[i];
    while (e) {
      struct entry *next = e->next;
      free(e->word);
      free(e);
      e = next;
    }
  }
  free(t);
}

/* Lower-cases a word in place and strips leading and trailing punctuation. */
static char *normalise(char *w) {
  char *end;
  while (*w && ispunct((unsigned char)*w)) w++;
  end = w + strlen(w);
  while (end > w && ispunct((unsigned char)end[-1])) *--end = '\0';
  for (end = w; *end; end++) *end = (char)tolower((unsigned char)*end);
  return w;
}

static int read_words(FILE *in, struct table *t) {
  char buf[MAX_WORD];
  size_t n = 0;
  int c;
  while ((c = getc(in)) != EOF) {
    if (isspace(c)) {
      if (n) {
        buf[n] = '\0';
        char *w = normalise(buf);
        if (*w) table_add(t, w);
        n = 0;
      }
    } else if (n < sizeof buf - 1) {
      buf[n++] = (char)c;
    }
  }
  if (n) {
    buf[n] = '\0';
    char *w = normalise(buf);
    if (*w) table_add(t, w);
  }
  return ferror(in) ? -1 : 0;
}

static int by_count(const void *a, const void *b) {
  const struct entry *x = *(const struct entry *const *)a;
  const struct entry *y = *(const struct entry *const *)b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  return strcmp(x->word, y->word);
}

static struct entry **table_sorted(const struct table *t) {
  struct entry **all = xmalloc((t->used + 1) * sizeof *all);
  size_t i, k = 0;
  for (i = 0; i < TABLE_SIZE; i++) {
    struct entry *e;
    for (e = t->slots[i]; e; e = e->next) all[k++] = e;
  }
  all[k] = NULL;
  qsort(all, k, sizeof *all, by_count);
  return all;
}

static void usage(const char *argv0) {
  fprintf(stderr, "usage: %s [-n TOP] [FILE...]\n", argv0);
  exit(2);
}

static long parse_top(const char *s, const char *argv0) {
  char *end;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || *end || v <= 0) usage(argv0);
  return v;
}

static void print_top(struct entry **all, long top, size_t used) {
  long i;
  unsigned long total = 0;
  size_t k;
  for (k = 0; k < used; k++) total += all[k]->count;
  printf("%zu distinct words, %lu in all\n", used, total);
  for (i = 0; i < top && all[i]; i++) {
    double share = total ? 100.0 * (double)all[i]->count / (double)total : 0.0;
    printf("%7lu %5.2f%% %s\n", all[i]->count, share, all[i]->word);
  }
}

int main(int argc, char **argv) {
  long top = 10;
  int opt, status = 0;
  struct table *t = table_new();
  struct entry **all;
  while ((opt = getopt(argc, argv, "n:")) != -1) {
    switch (opt) {
      case 'n':
        top = parse_top(optarg, argv[0]);
        break;
      default:
        usage(argv[0]);
    }
  }
  if (optind == argc) {
    if (read_words(stdin, t)) status = 1;
  }
  for (; optind < argc; optind++) {
    FILE *in = fopen(argv[optind], "r");
    if (!in) {
      fprintf(stderr, "%s: %s\n", argv[optind], strerror(errno));
      status = 1;
      continue;
    }
    if (read_words(in, t)) status = 1;
    fclose(in);
  }
  all = table_sorted(t);
  print_top(all, top, t->used);
  free(all);
  table_free(t);
  return status;
}
