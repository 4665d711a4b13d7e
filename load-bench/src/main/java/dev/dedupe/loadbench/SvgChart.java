package dev.dedupe.loadbench;

import java.util.List;
import java.util.Locale;

/**
 * A line chart as a standalone SVG document, written by hand (no library, nothing fetched):
 * categories along x (the stored-key sizes), a linear y axis from zero, one polyline with
 * labelled points per series, and a legend. Each series is a {@code <g class="series">} with a
 * {@code data-series} attribute, so tools and tests can find it.
 */
final class SvgChart {

  /**
   * One line: a name and a value per category (NaN or negative for none); a dashed line when
   * {@code dashed}, to set a compared system apart.
   */
  record Series(String name, double[] values, boolean dashed) {

    Series(String name, double[] values) {
      this(name, values, false);
    }
  }

  private static final String[] COLOURS = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"
  };
  private static final int WIDTH = 720;
  private static final int HEIGHT = 420;
  private static final int LEFT = 90;
  private static final int RIGHT = 190;
  private static final int TOP = 50;
  private static final int BOTTOM = 60;

  private SvgChart() {}

  static String lineChart(String title, String xLabel, String yLabel, List<String> categories,
      List<Series> series) {
    double max = 0;
    for (Series s : series) {
      for (double v : s.values()) {
        if (v > max) {
          max = v;
        }
      }
    }
    double top = niceCeiling(max <= 0 ? 1 : max * 1.1);
    int plotW = WIDTH - LEFT - RIGHT;
    int plotH = HEIGHT - TOP - BOTTOM;
    StringBuilder svg = new StringBuilder();
    svg.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    svg.append(String.format(Locale.ROOT,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
            + " font-family=\"sans-serif\" font-size=\"12\">%n", WIDTH, HEIGHT, WIDTH, HEIGHT));
    svg.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    svg.append(text(WIDTH / 2.0, 24, "middle", 15, escape(title)));
    // Axes, grid and y ticks.
    int ticks = 5;
    for (int i = 0; i <= ticks; i++) {
      double v = top * i / ticks;
      double y = TOP + plotH - plotH * (v / top);
      svg.append(String.format(Locale.ROOT,
          "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#dddddd\"/>%n",
          LEFT, y, LEFT + plotW, y));
      svg.append(text(LEFT - 8, y + 4, "end", 11, escape(number(v))));
    }
    svg.append(String.format(Locale.ROOT,
        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>%n",
        LEFT, TOP + plotH, LEFT + plotW, TOP + plotH));
    svg.append(String.format(Locale.ROOT,
        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>%n",
        LEFT, TOP, LEFT, TOP + plotH));
    int n = categories.size();
    for (int i = 0; i < n; i++) {
      svg.append(text(x(i, n, plotW), TOP + plotH + 18, "middle", 11, escape(categories.get(i))));
    }
    svg.append(text(LEFT + plotW / 2.0, HEIGHT - 14, "middle", 12, escape(xLabel)));
    svg.append(String.format(Locale.ROOT,
        "<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\""
            + " transform=\"rotate(-90 18 %.1f)\">%s</text>%n",
        TOP + plotH / 2.0, TOP + plotH / 2.0, escape(yLabel)));
    // Series.
    for (int s = 0; s < series.size(); s++) {
      Series line = series.get(s);
      String colour = COLOURS[s % COLOURS.length];
      svg.append("<g class=\"series\" data-series=\"").append(escape(line.name())).append("\">\n");
      StringBuilder points = new StringBuilder();
      for (int i = 0; i < n && i < line.values().length; i++) {
        double v = line.values()[i];
        if (!(v >= 0)) {
          continue;
        }
        double px = x(i, n, plotW);
        double py = TOP + plotH - plotH * (v / top);
        points.append(String.format(Locale.ROOT, "%.1f,%.1f ", px, py));
        svg.append(String.format(Locale.ROOT,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"><title>%s: %s</title></circle>%n",
            px, py, colour, escape(line.name()), escape(number(v))));
        svg.append(text(px, py - 8, "middle", 10, escape(number(v))));
      }
      String dash = line.dashed() ? " stroke-dasharray=\"6 4\"" : "";
      svg.append(String.format(Locale.ROOT,
          "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>%n",
          points.toString().trim(), colour, dash));
      double ly = TOP + 10 + s * 20;
      svg.append(String.format(Locale.ROOT,
          "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"%s/>%n",
          LEFT + plotW + 14, ly, LEFT + plotW + 34, ly, colour, dash));
      svg.append(text(LEFT + plotW + 40, ly + 4, "start", 11, escape(line.name())));
      svg.append("</g>\n");
    }
    svg.append("</svg>\n");
    return svg.toString();
  }

  private static double x(int i, int n, int plotW) {
    return n == 1 ? LEFT + plotW / 2.0 : LEFT + 30 + (plotW - 60) * i / (double) (n - 1);
  }

  private static String text(double x, double y, String anchor, int size, String body) {
    return String.format(Locale.ROOT,
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\">%s</text>%n",
        x, y, anchor, size, body);
  }

  /** 1, 2 or 5 times a power of ten, at least {@code v}. */
  static double niceCeiling(double v) {
    double p = Math.pow(10, Math.floor(Math.log10(v)));
    for (double m : new double[] {1, 2, 5, 10}) {
      if (m * p >= v) {
        return m * p;
      }
    }
    return 10 * p;
  }

  /** 950, 1.2k, 340k, 1.5M; two decimals below 10. */
  static String number(double v) {
    if (v == 0) {
      return "0";
    }
    if (v >= 1e6) {
      return String.format(Locale.ROOT, "%.2fM", v / 1e6);
    }
    if (v >= 1e4) {
      return String.format(Locale.ROOT, "%.0fk", v / 1e3);
    }
    if (v >= 1e3) {
      return String.format(Locale.ROOT, "%.1fk", v / 1e3);
    }
    if (v >= 10) {
      return String.format(Locale.ROOT, "%.0f", v);
    }
    return String.format(Locale.ROOT, "%.2f", v);
  }

  static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
