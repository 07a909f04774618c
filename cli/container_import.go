package cli

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/image/reference"
)

func addContainerImportCommands() {
	var changes []string
	var message, plat string
	c := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Long: `Make a one-layer image from a root filesystem tarball (plain, gzip or
zstd), as "berth export" writes; -c applies Dockerfile instructions (CMD,
ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL) to its
config. (An OCI image layout directory is "berth image import".)`,
		Example: `  berth export web | berth import -c 'CMD ["/bin/sh"]' - web-snapshot:1`,
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			if plat != "" {
				if _, err := parsePlatform(plat); err != nil {
					return err
				}
			}
			name := ""
			if len(args) == 2 {
				r, err := reference.Parse(args[1])
				if err != nil {
					return err
				}
				name = r.String()
			}
			var in io.Reader
			switch src := args[0]; {
			case src == "-":
				in = cmd.InOrStdin()
			case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
				resp, err := http.Get(src)
				if err != nil {
					return fmt.Errorf("import %s: %w", src, err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("import %s: %s", src, resp.Status)
				}
				in = resp.Body
			default:
				f, err := os.Open(src)
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				in = f
			}
			e, err := openEngine()
			if err != nil {
				return err
			}
			s, err := openStore()
			if err != nil {
				return err
			}
			res, err := e.Import(ctx, s, in, engine.ImportOptions{Name: name, Message: message, Changes: changes, Source: args[0]})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.ID)
			return nil
		},
	}
	c.Flags().StringArrayVarP(&changes, "change", "c", nil, "apply Dockerfile instruction to the created image")
	c.Flags().StringVarP(&message, "message", "m", "", "set commit message for imported image")
	c.Flags().StringVar(&plat, "platform", "", "set platform if server is multi-platform capable")
	Root.AddCommand(c)
}
