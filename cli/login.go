package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/registry"
)

func addLoginCommands() {
	var user, password string
	var passwordStdin bool
	login := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry",
		Long: `Check a user name and password against a registry and save them in the
auth file ($REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else
~/.docker/config.json, or the credential helper it names). SERVER defaults
to Docker Hub.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := reference.DefaultDomain
			if len(args) == 1 {
				server = serverHost(args[0])
			}
			return login(bg(cmd.Context()), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), server, user, password, passwordStdin)
		},
	}
	f := login.Flags()
	f.StringVarP(&user, "username", "u", "", "username")
	f.StringVarP(&password, "password", "p", "", "password")
	f.BoolVar(&passwordStdin, "password-stdin", false, "take the password from stdin")
	Root.AddCommand(login)

	Root.AddCommand(&cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := reference.DefaultDomain
			if len(args) == 1 {
				server = serverHost(args[0])
			}
			opts, err := registryOpts()
			if err != nil {
				return err
			}
			if err := registry.Logout(server, opts...); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", server)
			return nil
		},
	})
}

// serverHost accepts what users type after `login`: host[:port], or a URL
// such as https://index.docker.io/v1/.
func serverHost(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	if s == "index.docker.io" || s == "registry-1.docker.io" {
		return reference.DefaultDomain
	}
	return s
}

func login(ctx context.Context, stdin io.Reader, out, errOut io.Writer, server, user, password string, passwordStdin bool) error {
	in := bufio.NewReader(stdin)
	if passwordStdin {
		if password != "" {
			return errors.New("--password and --password-stdin are mutually exclusive")
		}
		if user == "" {
			return errors.New("must provide --username with --password-stdin")
		}
		b, err := io.ReadAll(in)
		if err != nil {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	} else if password != "" {
		fmt.Fprintln(errOut, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
	}
	f, _ := stdin.(*os.File)
	tty := f != nil && isTerminal(f)
	if user == "" {
		if !tty {
			return errors.New("cannot perform an interactive login from a non TTY device: give --username")
		}
		fmt.Fprint(out, "Username: ")
		l, err := in.ReadString('\n')
		if err != nil {
			return fmt.Errorf("read username: %w", err)
		}
		user = strings.TrimSpace(l)
	}
	if password == "" && !passwordStdin {
		if !tty {
			return errors.New("cannot perform an interactive login from a non TTY device: give --password-stdin")
		}
		fmt.Fprint(out, "Password: ")
		p, err := readNoEcho(f, in)
		fmt.Fprintln(out)
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		password = p
	}
	if password == "" {
		return errors.New("error: password required")
	}
	opts, err := registryOpts()
	if err != nil {
		return err
	}
	if err := registry.Login(ctx, server, user, password, opts...); err != nil {
		return err
	}
	fmt.Fprintln(out, "Login Succeeded")
	return nil
}

// readNoEcho reads a line from the terminal f with echo off.
func readNoEcho(f *os.File, in *bufio.Reader) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", err
	}
	t := *old
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	l, err := in.ReadString('\n')
	if err != nil && l == "" {
		return "", err
	}
	return strings.TrimRight(l, "\r\n"), nil
}
