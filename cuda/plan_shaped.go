package cuda

import "github.com/gputrain/gputrain/graph"

// shapedDesc fills in the shapes the kernel of one of chapter 6's ops
// reads (kernels.cu's OpDesc says which field holds what).
func shapedDesc(d *opDesc, f graph.Form, s graph.Shapes, alpha float64) {
	switch f {
	case graph.FormIm2Col, graph.FormCol2Im:
		im, col := s.A, s.D
		if f == graph.FormCol2Im {
			im, col = s.D, s.A
		}
		d.Rows, d.Cols = int64(im[2]), int64(im[3])
		d.Alpha, d.Beta = float64(im[2]-col[1]+1), float64(im[1])
	case graph.FormPermute:
		nchw := s.D
		if alpha != 0 {
			nchw = s.A
		}
		d.Rows, d.Cols = int64(nchw[2]*nchw[3]), int64(nchw[1])
	case graph.FormPool:
		d.Rows, d.Cols = int64(s.A[2]), int64(s.A[3])
	case graph.FormPoolBack:
		d.Rows, d.Cols = int64(s.D[2]), int64(s.D[3])
	case graph.FormMap:
		d.Cols = int64(prod(s.B))
	case graph.FormGroups:
		d.Rows = int64(prod(s.A) / prod(s.D))
	}
}

func prod(dims []int) int {
	n := 1
	for _, x := range dims {
		n *= x
	}
	return n
}
