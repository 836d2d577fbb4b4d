package rpc

import (
	"errors"
	"net"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/govirt/govirtd/protocol"
)

// The write side of a client: the bounded outbound queue, direct
// non-blocking writes, the writer goroutine and the flush on close.

// enqueue puts a frame on the outbound queue without ever blocking. A
// client whose queue is full is dropped: it is closed in flush mode, so
// that what is queued, and the session's farewell, still reach it if it
// reads within FlushTimeout.
func (p *Peer) enqueue(frame []byte) error {
	select {
	case <-p.done:
		return ErrPeerClosed
	default:
	}
	n := p.queued.Load()
	for {
		if n >= p.maxQueue {
			err := &SlowClientError{Queue: int(p.maxQueue)}
			p.drop(err, true, &p.srv.slowDropped)
			return err
		}
		if p.queued.CompareAndSwap(n, n+1) {
			break
		}
		n = p.queued.Load()
	}
	p.srv.notePeak(int(n + 1))
	p.addQueued(int64(len(frame)))
	p.outMu.Lock()
	p.out = append(p.out, frame)
	p.outMu.Unlock()
	p.wakeWriter()
	p.startWriter()
	return nil
}

// wakeWriter tells the writer goroutine there is something to write.
func (p *Peer) wakeWriter() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// takeQueued moves up to len(dst) queued frames, oldest first, into dst
// and returns how many it moved and whether more are left. A frame that
// carries files ends the batch: its files are returned, to be sent
// right after it. The queue's array is released once it empties if it
// grew large.
func (p *Peer) takeQueued(dst [][]byte) (int, bool, []*os.File) {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	k := copy(dst, p.out[p.outHead:])
	var files []*os.File
	if len(p.fdFrames) > 0 {
		for i := range k {
			if files = p.filesOfLocked(dst[i]); files != nil {
				clear(dst[i+1 : k])
				k = i + 1
				break
			}
		}
	}
	clear(p.out[p.outHead : p.outHead+k])
	p.outHead += k
	if p.outHead < len(p.out) {
		return k, true, files
	}
	p.outHead = 0
	p.out = p.out[:0]
	if cap(p.out) > 32 {
		p.out = nil
	}
	return k, false, files
}

// queuedLen is how many frames wait in the queue.
func (p *Peer) queuedLen() int {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	return len(p.out) - p.outHead
}

// startWriter starts the writer goroutine unless one runs, the client's
// session is not set yet (start starts it then) or its teardown began.
func (p *Peer) startWriter() {
	p.writerMu.Lock()
	defer p.writerMu.Unlock()
	if p.writerRunning || p.writersClosed || !p.writerReady {
		return
	}
	p.writerRunning = true
	p.writers.Add(1)
	go func() {
		defer p.writers.Done()
		p.writeLoop()
	}()
}

// writerIdle ends the writer when nothing waits to be written and the
// client is not closing (a close in flush mode found this writer running
// and relies on it). A frame counted in queued but not yet in out keeps
// it: its sender's startWriter would find it running.
func (p *Peer) writerIdle() bool {
	p.writerMu.Lock()
	defer p.writerMu.Unlock()
	select {
	case <-p.done:
		return false // the loop sees done and flushes or stops
	default:
	}
	if p.queued.Load() != 0 || p.queuedLen() != 0 {
		return false
	}
	p.writerRunning = false
	return true
}

// send writes frame at once when nothing is queued or being written,
// without blocking: what the socket does not take at once is kept in
// partial for the writer goroutine, which writes it before anything
// queued meanwhile. Otherwise frame is queued behind the others. Either
// way send never blocks, and frames leave whole and in send order.
func (p *Peer) send(frame []byte) error {
	if p.raw == nil || p.queued.Load() != 0 || !p.wmu.TryLock() {
		return p.enqueue(frame)
	}
	defer p.wmu.Unlock()
	// Claim the frame's place in the queue before writing, so that frames
	// queued meanwhile count it and the bound holds.
	if !p.queued.CompareAndSwap(0, 1) {
		return p.enqueue(frame)
	}
	select {
	case <-p.done:
		p.queued.Add(-1)
		return ErrPeerClosed
	default:
	}
	n, err := p.writeNonblock(frame)
	if err != nil {
		p.queued.Add(-1)
		p.Close(err)
		return err
	}
	if n == len(frame) {
		p.queued.Add(-1)
		return nil
	}
	// The rest, still counted in queued, goes first when the writer runs.
	p.partial = frame[n:]
	p.addQueued(int64(len(frame) - n))
	p.wakeWriter()
	p.startWriter()
	return nil
}

// writeNonblock writes what the socket takes of b now; the socket is in
// non-blocking mode, so a full socket buffer ends it early.
func (p *Peer) writeNonblock(b []byte) (int, error) {
	n := 0
	var werr error
	err := p.raw.Write(func(fd uintptr) bool {
		for n < len(b) {
			// MSG_DONTWAIT: never block, even if someone switched the
			// socket to blocking mode (os.File.Fd does).
			m, err := syscall.SendmsgN(int(fd), b[n:], nil, nil, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL)
			if m > 0 {
				n += m
			}
			if err == syscall.EINTR {
				continue
			}
			if err != syscall.EAGAIN {
				werr = err
			}
			if err != nil || m <= 0 {
				break
			}
		}
		return true // never wait for the socket: the writer goroutine does
	})
	if err == nil {
		err = werr
	}
	return n, err
}

// SendMessage queues an asynchronous MESSAGE (an event) for the client,
// with the header libvirtd uses: status OK, serial 1. It never blocks.
func (p *Peer) SendMessage(prog, vers uint32, proc int32, body protocol.Encodable) error {
	f, err := EncodeFrame(protocol.Header{
		Program: prog, Version: vers, Procedure: proc,
		Type: protocol.Message, Serial: 1, Status: protocol.StatusOK,
	}, body)
	if err != nil {
		return err
	}
	return p.send(f)
}

// SendFrame queues an encoded frame for the client. It never blocks.
func (p *Peer) SendFrame(frame []byte) error { return p.send(frame) }

// writeLoop writes what send could not: frames leave whole and in
// queue order, after the rest of a frame a direct write began; it returns
// once nothing is left. On a flush close it writes what is queued, then
// the session's farewell, within the write deadline close set.
func (p *Peer) writeLoop() {
	// backing[0] is for the rest of a frame a direct write began.
	var backing [17][]byte
	for {
		select {
		case <-p.kick:
		case <-p.done:
			p.closeMu.Lock()
			flush := p.flush
			p.closeMu.Unlock()
			if flush {
				p.flushAndClose()
			}
			return
		}
		// Write what is queued now, up to 16 frames, in one system call.
		k, more, files := p.takeQueued(backing[1:])
		if more {
			p.wakeWriter()
		}
		bufs := net.Buffers(backing[1 : 1+k])
		p.wmu.Lock()
		if p.partial != nil {
			backing[0] = p.partial
			bufs = backing[:k+1]
			p.partial = nil
		}
		n := len(bufs)
		size := 0
		for _, b := range bufs {
			size += len(b)
		}
		var err error
		if n > 0 {
			_, err = bufs.WriteTo(p.conn)
		}
		if files != nil {
			if err == nil {
				err = p.sendFiles(files)
			} else {
				closeFiles(files)
			}
		}
		p.queued.Add(-int32(n))
		p.addQueued(-int64(size))
		p.wmu.Unlock()
		clear(backing[:])
		if err != nil {
			p.Close(err)
			return
		}
		if p.writerIdle() {
			return
		}
	}
}

// flushAndClose writes the frames still queued and then the farewell,
// stopping at the first failed write: after a partial frame nothing more
// may be written, or the client would read garbage as a frame.
func (p *Peer) flushAndClose() {
	defer p.conn.Close()
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.partial != nil {
		_, err := p.conn.Write(p.partial)
		p.partial = nil
		p.queued.Add(-1)
		if err != nil {
			return
		}
	}
	var one [1][]byte
	for {
		k, _, files := p.takeQueued(one[:])
		if k == 0 {
			if f := p.farewell(); f != nil {
				p.conn.Write(f)
			}
			return
		}
		_, err := p.conn.Write(one[0])
		one[0] = nil
		p.queued.Add(-1)
		if files != nil {
			if err == nil {
				err = p.sendFiles(files)
			} else {
				closeFiles(files)
			}
		}
		if err != nil {
			return
		}
	}
}

// farewell asks the session for a last frame when the client is being
// dropped for not reading. It runs on the writer goroutine, never on the
// one that found the queue full, so the session may take its locks.
func (p *Peer) farewell() (frame []byte) {
	var slow *SlowClientError
	if !errors.As(p.Err(), &slow) {
		return nil
	}
	fw, ok := p.session.(Fareweller)
	if !ok {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			p.srv.log.Error("panic in the session's Farewell", "client", p.id, "panic", r, "stack", string(debug.Stack()))
			frame = nil
		}
	}()
	return fw.Farewell(p.Err())
}
