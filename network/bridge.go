package network

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// ensureBridge creates a bridge network's bridge with its gateway address
// at create time (the bridge plugin would create it on first ADD): the
// link and its route then exist at once, so a later subnet or bridge-name
// choice, by this root or another, sees them as taken. It says whether it
// created the link.
func ensureBridge(n *Network) (bool, error) {
	if _, err := netlink.LinkByName(n.Interface); err == nil {
		return false, nil
	}
	la := netlink.NewLinkAttrs()
	la.Name = n.Interface
	if mtu := optInt(n.Options, "mtu"); mtu > 0 {
		la.MTU = mtu
	}
	br := &netlink.Bridge{LinkAttrs: la}
	if err := netlink.LinkAdd(br); err != nil {
		return false, fmt.Errorf("create bridge %s: %w", n.Interface, err)
	}
	err := func() error {
		for _, s := range n.Subnets {
			if s.Gateway == "" {
				continue
			}
			_, sub, err := net.ParseCIDR(s.Subnet)
			if err != nil {
				return err
			}
			sub.IP = net.ParseIP(s.Gateway)
			if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: sub}); err != nil {
				return fmt.Errorf("bridge %s address %s: %w", n.Interface, sub, err)
			}
		}
		return netlink.LinkSetUp(br)
	}()
	if err != nil {
		netlink.LinkDel(br)
		return false, err
	}
	return true, nil
}

// deleteBridge removes a bridge network's bridge if it is one.
func deleteBridge(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	if _, ok := l.(*netlink.Bridge); !ok {
		return nil
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("remove bridge %s: %w", name, err)
	}
	return nil
}
