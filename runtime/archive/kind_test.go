package archive_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/runtime/archive"
)

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    archive.Kind
	}{
		{"PK\x03\x04rest", archive.KindZip},
		{"PK\x05\x06", archive.KindZip},
		{"PK\x01\x02", archive.KindSource},
		{"PK", archive.KindSource},
		{"\x1f\x8b", archive.KindTarGz},
		{"\x1f", archive.KindSource},
		{"\x7fELF", archive.KindExecutable},
		{"\x7fEL", archive.KindSource},
		{"#!", archive.KindExecutable},
		{"#!/bin/sh\n", archive.KindExecutable},
		{"# comment", archive.KindSource},
		{"package main", archive.KindSource},
		{"", archive.KindSource},
	} {
		require.Equal(t, tc.want, archive.Detect([]byte(tc.payload)), "Detect(%q)", tc.payload)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[archive.Kind]string{
		archive.KindExecutable: "executable",
		archive.KindSource:     "source",
		archive.KindZip:        "zip",
		archive.KindTarGz:      "tar.gz",
		0:                      "Kind(0)",
		9:                      "Kind(9)",
	} {
		require.Equal(t, want, k.String())
	}
}

func TestIsExecutable(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content string
		want    bool
	}{
		{"\x7fELF\x02\x01", true},
		{"\x7fELF", true},
		{"#!/bin/sh", true},
		{"#!", true},
		{"#", false},
		{"", false},
		{"package main", false},
		{"PK\x03\x04", false},
	} {
		p := filepath.Join(dir, "f")
		require.NoError(t, os.WriteFile(p, []byte(tc.content), 0o644))
		got, err := archive.IsExecutable(p)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "IsExecutable(%q)", tc.content)
	}

	_, err := archive.IsExecutable(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Contains(t, err.Error(), "archive: ")

	_, err = archive.IsExecutable(dir)
	require.ErrorIs(t, err, archive.ErrInvalid, "a directory is not a file to read")
}
