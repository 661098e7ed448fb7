package bench

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// series is one set of bars (one per name) or one line.
type series struct {
	label  string
	values []float64
}

// chart describes one PNG.
type chart struct {
	file, title, xlabel, ylabel string
	names                       []string // bar groups; nil for a line chart
	xs                          []float64
	series                      []series
	target                      float64 // a dashed horizontal line; 0 for none
	targetLabel                 string
}

// save draws c into file (in the package directory, next to REPORT.md).
func (c chart) save() error {
	p := plot.New()
	p.Title.Text = c.title
	p.X.Label.Text = c.xlabel
	p.Y.Label.Text = c.ylabel
	p.Y.Min = 0
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	// A chart of many bar groups grows wider, and its groups narrower, so that they do not overlap.
	w := max(18*vg.Centimeter, vg.Length(len(c.names))*1.2*vg.Centimeter)
	if c.names != nil {
		group := min(vg.Points(40), 0.8*(w-3*vg.Centimeter)/vg.Length(len(c.names)))
		width := group / vg.Length(len(c.series))
		for i, s := range c.series {
			bars, err := plotter.NewBarChart(plotter.Values(s.values), width)
			if err != nil {
				return err
			}
			bars.Color = plotutil.Color(i)
			bars.LineStyle.Width = 0
			bars.Offset = width * vg.Length(float64(i)-float64(len(c.series)-1)/2)
			p.Add(bars)
			if len(c.series) > 1 {
				p.Legend.Add(s.label, bars)
			}
		}
		p.NominalX(c.names...)
		p.X.Min, p.X.Max = -0.6, float64(len(c.names))-0.4 // room for the outer bars of the groups
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
	} else {
		for i, s := range c.series {
			xys := make(plotter.XYs, len(s.values))
			for j, v := range s.values {
				xys[j] = plotter.XY{X: c.xs[j], Y: v}
			}
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
			p.Add(line, points)
			p.Legend.Add(s.label, line, points)
		}
	}
	if c.target > 0 {
		f := plotter.NewFunction(func(float64) float64 { return c.target })
		f.Color = color.RGBA{R: 200, A: 255}
		f.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		f.Width = vg.Points(1.5)
		p.Add(f)
		p.Legend.Add(c.targetLabel, f)
	}
	// Headroom above the data for the legend, which sits in the top corner.
	top := c.target
	for _, s := range c.series {
		for _, v := range s.values {
			top = math.Max(top, v)
		}
	}
	p.Y.Max = top * 1.35
	return p.Save(w, 10*vg.Centimeter, c.file)
}
