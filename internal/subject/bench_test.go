package subject_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/subject"
)

func BenchmarkFromPaths(b *testing.B) {
	const files, size = 64, 1 << 20
	dir := b.TempDir()
	data := make([]byte, size)
	for i := range files {
		if _, err := rand.Read(data); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.bin", i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.SetBytes(files * size)
	b.ReportAllocs()
	for b.Loop() {
		got, err := subject.FromPaths(ctx, []string{"*.bin"}, subject.WithDir(dir))
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != files {
			b.Fatalf("got %d subjects", len(got))
		}
	}
}

func BenchmarkParseChecksums(b *testing.B) {
	var sb strings.Builder
	for i := range 1024 {
		fmt.Fprintf(&sb, "%064x  dist/artifact-%04d.tar.gz\n", i, i)
	}
	input := sb.String()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		got, err := subject.ParseChecksums(strings.NewReader(input))
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != 1024 {
			b.Fatalf("got %d subjects", len(got))
		}
	}
}
