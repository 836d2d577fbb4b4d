package rpc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/govirt/govirtd/protocol"
)

// File-descriptor passing (libvirt's REPLY_WITH_FDS): a reply that
// carries open files has the type REPLY_WITH_FDS, a count of the files
// between the header and the body, and, once the frame's last byte is
// written, one one-byte message per file carrying it as SCM_RIGHTS, in
// order. Only unix-socket clients can be given files.

// MaxFiles is how many files one message may carry
// (VIR_NET_MESSAGE_NUM_FDS_MAX).
const MaxFiles = 32

// ErrNoFilePassing is why files cannot go to a client that is not on a
// unix socket.
var ErrNoFilePassing = errors.New("file descriptors can only be passed to clients on a unix socket")

// fdFrame is a queued frame that carries files: first is its first
// byte, which identifies the frame in the queue.
type fdFrame struct {
	first *byte
	files []*os.File
}

// CanPassFiles reports whether the client can be given open files: it
// is on a unix socket.
func (p *Peer) CanPassFiles() bool {
	_, ok := p.conn.(*net.UnixConn)
	return ok && p.raw != nil
}

// ReplyWithFiles makes the call's reply carry files; the server owns
// them from here on and closes them once sent, or when the reply is an
// error or cannot be sent.
func (c *Call) ReplyWithFiles(files ...*os.File) error {
	if !c.peer.CanPassFiles() {
		closeFiles(files)
		return ErrNoFilePassing
	}
	if len(c.files)+len(files) > MaxFiles {
		closeFiles(files)
		return fmt.Errorf("too many files for one reply: %d, at most %d", len(c.files)+len(files), MaxFiles)
	}
	c.files = append(c.files, files...)
	return nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// withNumFDs is a reply body preceded by the count of the files it
// carries.
type withNumFDs struct {
	n   uint32
	ret protocol.Encodable
}

func (w withNumFDs) EncodeXDR(e *protocol.Encoder) error {
	e.Uint32(w.n)
	if w.ret == nil {
		return nil
	}
	return w.ret.EncodeXDR(e)
}

// replyWithFiles encodes and queues a successful reply that carries
// files. It always goes through the queue: the writer sends the files
// right after the frame.
func (p *Peer) replyWithFiles(call protocol.Header, ret protocol.Encodable, files []*os.File) error {
	h := replyHeader(call, protocol.StatusOK)
	h.Type = protocol.ReplyWithFDs
	frame, err := EncodeFrame(h, withNumFDs{n: uint32(len(files)), ret: ret})
	if err != nil {
		closeFiles(files)
		return fmt.Errorf("encode reply to %s: %w", protocol.Procedure(call.Procedure), err)
	}
	p.outMu.Lock()
	p.fdFrames = append(p.fdFrames, fdFrame{first: &frame[0], files: files})
	p.outMu.Unlock()
	// A frame enqueue refuses (the client is closing) leaves its files
	// to releaseFiles, at teardown.
	return p.enqueue(frame)
}

// filesOf returns the files the frame carries and takes them off the
// pending list, or nil. The caller holds outMu.
func (p *Peer) filesOfLocked(frame []byte) []*os.File {
	if len(p.fdFrames) == 0 || len(frame) == 0 || p.fdFrames[0].first != &frame[0] {
		return nil
	}
	files := p.fdFrames[0].files
	p.fdFrames[0] = fdFrame{}
	p.fdFrames = p.fdFrames[1:]
	if len(p.fdFrames) == 0 {
		p.fdFrames = nil
	}
	return files
}

// sendFiles sends each file as SCM_RIGHTS on a one-byte message, waiting
// for the socket to take each, then closes them. The caller holds wmu
// and has written the frame they belong to.
func (p *Peer) sendFiles(files []*os.File) error {
	defer closeFiles(files)
	for _, f := range files {
		oob := syscall.UnixRights(int(f.Fd()))
		var serr error
		err := p.raw.Write(func(fd uintptr) bool {
			for {
				_, serr = syscall.SendmsgN(int(fd), []byte{0}, oob, nil, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL)
				if serr == syscall.EINTR {
					continue
				}
				return serr != syscall.EAGAIN // wait until writable, then try again
			}
		})
		if err == nil {
			err = serr
		}
		if err != nil {
			return fmt.Errorf("send a file descriptor: %w", err)
		}
	}
	return nil
}

// releaseFiles closes the files of frames that were never written (the
// client went away first).
func (p *Peer) releaseFiles() {
	p.outMu.Lock()
	pending := p.fdFrames
	p.fdFrames = nil
	p.outMu.Unlock()
	for _, f := range pending {
		closeFiles(f.files)
	}
}
