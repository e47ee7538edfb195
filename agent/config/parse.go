package config

// Parse reads settings from data, as Load reads them from a file; name is what its
// errors call the source.
func Parse(name string, data []byte) (Config, error) { return parseConfig(name, data) }

// ParseUsers reads per-user options from data, as LoadUsers reads them from a file.
func ParseUsers(name string, data []byte) (UserStore, error) { return parseUsers(name, data) }
