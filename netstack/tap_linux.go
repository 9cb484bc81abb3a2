package netstack

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/songgao/water"
	"golang.org/x/sys/unix"
)

// tapDevice is an attached TAP device: one non-blocking file per queue, each
// on Go's poller. The files are never converted with (*os.File).Fd, which
// would switch them to blocking mode (much slower writes, see NOTES).
type tapDevice struct {
	name    string
	files   []*os.File
	created bool // we created the device; it goes away with our last fd
}

// linkState reports whether a network interface exists in the calling
// thread's network namespace and whether its kernel side is up.
func linkState(name string) (exists, up bool, err error) {
	if len(name) == 0 || len(name) >= unix.IFNAMSIZ {
		return false, false, fmt.Errorf("invalid interface name %q (1 to %d bytes)", name, unix.IFNAMSIZ-1)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, false, fmt.Errorf("socket for interface query: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return false, false, fmt.Errorf("interface %q: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return false, false, nil
		}
		return false, false, fmt.Errorf("query interface %q: %w", name, err)
	}
	return true, ifr.Uint16()&unix.IFF_UP != 0, nil
}

// openTAP attaches to the TAP device name, creating it if it does not exist,
// with queues queues (IFF_MULTI_QUEUE when more than one). It must run on a
// thread in the network namespace the device lives in.
//
// An existing device keeps its persist flag set (water would clear it, making
// a device made with `ip tuntap add` vanish when we exit); a device we create
// is not persistent and the kernel removes it when our last fd closes.
//
// water leaks its /dev/net/tun fd when the attach ioctl fails (it does not
// close it on that path); New fails then anyway, so at most one unattached
// fd per failed New is lost.
func openTAP(name string, queues int) (*tapDevice, error) {
	exists, _, err := linkState(name)
	if err != nil {
		return nil, err
	}
	dev := &tapDevice{name: name, created: !exists}
	for i := 0; i < queues; i++ {
		ifce, err := water.New(water.Config{
			DeviceType: water.TAP,
			PlatformSpecificParams: water.PlatformSpecificParams{
				Name:       name,
				Persist:    exists,
				MultiQueue: queues > 1,
			},
		})
		if err != nil {
			dev.close()
			return nil, tapError(name, exists, queues, err)
		}
		f, ok := ifce.ReadWriteCloser.(*os.File)
		if !ok {
			ifce.Close()
			dev.close()
			return nil, fmt.Errorf("tap %s: unexpected water file type %T", name, ifce.ReadWriteCloser)
		}
		dev.files = append(dev.files, f)
		if ifce.Name() != name {
			dev.close()
			return nil, fmt.Errorf("tap %s: kernel attached %q instead", name, ifce.Name())
		}
	}
	return dev, nil
}

// tapError turns water's errors into ones a person can act on. water returns
// the bare errno for the open of /dev/net/tun and an *os.SyscallError for the
// ioctls.
func tapError(name string, exists bool, queues int, err error) error {
	var se *os.SyscallError
	isIoctl := errors.As(err, &se)
	switch {
	case !isIoctl && (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)):
		return fmt.Errorf("open /dev/net/tun: permission denied (run as root or give CAP_NET_ADMIN): %w", err)
	case !isIoctl && errors.Is(err, unix.ENOENT):
		return fmt.Errorf("open /dev/net/tun: no such device node (load the tun module or create /dev/net/tun): %w", err)
	case !isIoctl:
		return fmt.Errorf("open /dev/net/tun: %w", err)
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("tap %s: device busy (another process is attached; a multi-queue device allows several): %w", name, err)
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("tap %s: not allowed to attach (device owned by another user/group, or missing CAP_NET_ADMIN): %w", name, err)
	case errors.Is(err, unix.EINVAL) && exists:
		if what := describeLink(name); what != "" {
			return fmt.Errorf("tap %s: %s, not a TAP device; give --tap a name that is free (tapdns creates the TAP) or one made with `ip tuntap add NAME mode tap`", name, what)
		}
		mq := ""
		if queues > 1 {
			mq = " multi_queue"
		}
		return fmt.Errorf("tap %s: exists but is not a TAP device with matching multi-queue mode (want `ip tuntap add %s mode tap%s`): %w",
			name, name, mq, err)
	default:
		return fmt.Errorf("tap %s: attach: %w", name, err)
	}
}

// frameIOs returns one frameIO per queue.
func (d *tapDevice) frameIOs() ([]frameIO, error) {
	ios := make([]frameIO, len(d.files))
	for i, f := range d.files {
		t, err := newTapIO(f)
		if err != nil {
			return nil, fmt.Errorf("tap %s queue %d: %w", d.name, i, err)
		}
		ios[i] = t
	}
	return ios, nil
}

// addGroup is a no-op: a TAP hands us every frame.
func (d *tapDevice) addGroup(netip.Addr) error { return nil }

// close releases every queue. For a device we created, closing the last fd
// removes it.
func (d *tapDevice) close() error {
	var first error
	for _, f := range d.files {
		if err := f.Close(); err != nil && first == nil {
			first = fmt.Errorf("close tap %s: %w", d.name, err)
		}
	}
	d.files = nil
	return first
}
