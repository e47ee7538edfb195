package config

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPublicAddress(t *testing.T) {
	cases := []struct {
		host, want, err string
	}{
		{host: "", want: ""},
		{host: "192.0.2.7", want: "192.0.2.7"},
		{host: "localhost", want: "127.0.0.1"}, // from /etc/hosts, no DNS
		{host: "::1", err: `public_host: "::1": must be an IPv4 address or a host name`},
		{host: "ftp example", err: `public_host: "ftp example": must be an IPv4 address or a host name`},
		{host: "-bad-.example", err: "must be an IPv4 address or a host name"},
	}
	for _, tc := range cases {
		got, err := PublicAddress(context.Background(), tc.host)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.host)
			continue
		}
		require.NoError(t, err, tc.host)
		require.Equal(t, tc.want, got, tc.host)
	}
}

func TestResolvePublicHostKeepsTheLastAddress(t *testing.T) {
	got, err := ResolvePublicHost(context.Background(), "ftp example", "192.0.2.1")
	require.ErrorContains(t, err, "keep announcing 192.0.2.1")
	require.Equal(t, "192.0.2.1", got)

	got, err = ResolvePublicHost(context.Background(), "ftp example", "")
	require.ErrorContains(t, err, "keep announcing the address each client connected to")
	require.Equal(t, "", got)

	got, err = ResolvePublicHost(context.Background(), "192.0.2.9", "192.0.2.1")
	require.NoError(t, err)
	require.Equal(t, "192.0.2.9", got)
}
