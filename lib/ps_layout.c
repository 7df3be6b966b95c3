#include "ps_layout.h"

#include <stddef.h>

const struct ps_layout *ps_layout_find(int major, int minor)
{
	int want, i;

	/* PS_PY packs minor into 8 bits; refuse what would alias. */
	if (major < 0 || major > 0xff || minor < 0 || minor > 0xff)
		return NULL;
	want = PS_PY(major, minor);
	for (i = 0; i < ps_layouts_count; i++)
		if (ps_layouts[i].version == want)
			return &ps_layouts[i];
	return NULL;
}
