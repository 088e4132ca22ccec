package alloc

import (
	"testing"
	"unsafe"
)

// A slab of bindings fills 8 KiB, a size class of the heap, without room
// for one more.
func TestSlabFillsASizeClass(t *testing.T) {
	size := int(unsafe.Sizeof(binding{}))
	if n := bindingsPerSlab * size; n > 8192 || n+size <= 8192 {
		t.Errorf("a slab of %d bindings of %d bytes takes %d bytes; make it %d", bindingsPerSlab, size, n, 8192/size)
	}
}
