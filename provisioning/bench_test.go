package provisioning

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/fileserve"
)

// BenchmarkServeGenerated resolves the generated files of a boot storm
// through the file server's namespace, as every HTTP and TFTP request
// for them does, in parallel.
func BenchmarkServeGenerated(b *testing.B) {
	files := b.TempDir()
	for i := 0; i < 50; i++ {
		os.WriteFile(filepath.Join(files, fmt.Sprintf("FW_S_J179_R4_1_%d_0_1.bin", i)), []byte("fw"), 0o644)
	}
	old := time.Now().Add(-time.Minute)
	os.Chtimes(files, old, old)
	g, err := New(DefaultConfig(), Options{FilesDir: files})
	if err != nil {
		b.Fatal(err)
	}
	ns, err := fileserve.NewNamespace(files, nil, g)
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	names := []string{"J100Supgrade.txt", "46xxsettings.txt"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			e, err := ns.Open(context.Background(), names[i%2], client())
			if err != nil {
				b.Error(err)
				return
			}
			e.Close()
			i++
		}
	})
}
