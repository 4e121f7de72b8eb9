using InseqBridge.Attribution;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// Monotonic paths of discretized integrated gradients (Sanyal and Ren 2021) through a vocabulary's embeddings.
/// A path from a word w to its baseline w' starts at w; each next point is a monotonized anchor: among the
/// nearest vocabulary words (Euclidean) of the current anchor word, not yet on the path and not the baseline, the
/// anchor is chosen by the strategy and its dimensions that do not lie between the current point and w' are moved
/// 1/m of the way from the current point towards w'. After m - 2 such points the path ends at w'. Every dimension
/// of the path therefore moves monotonically from w to w'. Paths are returned baseline first.
/// </summary>
internal sealed class MonotonicPathBuilder
{
    private readonly float[] _vocabulary;
    private readonly int _size;
    private readonly int _dim;
    private readonly Dictionary<(int Word, int Neighbors), int[]> _neighbors = [];
    private readonly Dictionary<(int Word, int Baseline, int Steps, PathStrategy Strategy, int Neighbors, bool Special), double[][]> _paths = [];

    /// <summary>Creates a builder over the vocabulary embeddings [size, dim] (row-major, as the model sees them).</summary>
    public MonotonicPathBuilder(float[] vocabulary, int size, int dim)
    {
        _vocabulary = vocabulary;
        _size = size;
        _dim = dim;
    }

    /// <summary>Vocabulary size.</summary>
    public int Size => _size;

    /// <summary>The path from <paramref name="baseline"/> to <paramref name="word"/>: <paramref name="steps"/> points.</summary>
    /// <param name="word">Token id.</param>
    /// <param name="baseline">Baseline token id.</param>
    /// <param name="steps">Number of points (at least 2).</param>
    /// <param name="strategy">Anchor selection.</param>
    /// <param name="neighbors">Nearest neighbours searched for anchors.</param>
    /// <param name="special">Special tokens follow the straight line (no anchors).</param>
    public double[][] Path(int word, int baseline, int steps, PathStrategy strategy, int neighbors, bool special)
    {
        var key = (word, baseline, steps, strategy, neighbors, special);
        lock (_paths)
        {
            if (_paths.TryGetValue(key, out double[][]? cached))
            {
                return cached;
            }
        }

        double[][] path = Build(word, baseline, steps, strategy, neighbors, special);
        lock (_paths)
        {
            _paths[key] = path;
        }

        return path;
    }

    /// <summary>True when every coordinate of <paramref name="candidate"/> lies between <paramref name="point"/>
    /// and <paramref name="baseline"/> (inclusive), per dimension.</summary>
    public static bool[] MonotonicDimensions(ReadOnlySpan<double> candidate, ReadOnlySpan<double> baseline, ReadOnlySpan<double> point)
    {
        var result = new bool[candidate.Length];
        for (int j = 0; j < candidate.Length; j++)
        {
            double a = candidate[j], b = baseline[j], x = point[j];
            result[j] = (b > x && b >= a && a >= x) || (b < x && b <= a && a <= x) || (b == x && a == x);
        }

        return result;
    }

    /// <summary>The anchor with its non-monotonic dimensions moved 1/<paramref name="steps"/> of the way from
    /// <paramref name="point"/> towards <paramref name="baseline"/>.</summary>
    public static double[] Monotonize(ReadOnlySpan<double> anchor, ReadOnlySpan<double> baseline, ReadOnlySpan<double> point, int steps)
    {
        bool[] monotonic = MonotonicDimensions(anchor, baseline, point);
        var result = new double[anchor.Length];
        for (int j = 0; j < anchor.Length; j++)
        {
            result[j] = monotonic[j] ? anchor[j] : point[j] - ((point[j] - baseline[j]) / steps);
        }

        return result;
    }

    private double[] Row(int id)
    {
        var row = new double[_dim];
        for (int j = 0; j < _dim; j++)
        {
            row[j] = _vocabulary[((long)id * _dim) + j];
        }

        return row;
    }

    private double[][] Build(int word, int baseline, int steps, PathStrategy strategy, int neighbors, bool special)
    {
        double[] start = Row(word), end = Row(baseline);
        var forward = new List<double[]> { start };
        if (word == baseline || special)
        {
            // Straight line (a constant path when the token is its own baseline).
            for (int k = 1; k < steps - 1; k++)
            {
                double t = (double)k / (steps - 1);
                forward.Add(start.Select((v, j) => v + (t * (end[j] - v))).ToArray());
            }
        }
        else
        {
            var visited = new HashSet<int> { word };
            int anchorWord = word;
            double[] point = start;
            for (int k = 1; k < steps - 1; k++)
            {
                int best = -1;
                double bestScore = double.PositiveInfinity;
                double[]? bestPoint = null;
                foreach (int candidate in Neighbors(anchorWord, neighbors))
                {
                    if (candidate == baseline || visited.Contains(candidate))
                    {
                        continue;
                    }

                    double[] anchor = Row(candidate);
                    double[] monotonized = Monotonize(anchor, end, point, steps);
                    double score = strategy == PathStrategy.Greedy
                        ? Distance(anchor, monotonized)
                        : -MonotonicDimensions(anchor, end, point).Count(m => m);
                    if (score < bestScore)
                    {
                        (best, bestScore, bestPoint) = (candidate, score, monotonized);
                    }
                }

                if (bestPoint is null)
                {
                    // No anchor left: a plain 1/m step towards the baseline.
                    bestPoint = point.Select((v, j) => v - ((v - end[j]) / steps)).ToArray();
                }
                else
                {
                    visited.Add(best);
                    anchorWord = best;
                }

                point = bestPoint;
                forward.Add(point);
            }
        }

        forward.Add(end);
        forward.Reverse();
        return forward.ToArray();
    }

    /// <summary>The <paramref name="count"/> nearest vocabulary words of <paramref name="word"/> (itself excluded),
    /// nearest first; ties by id.</summary>
    public int[] Neighbors(int word, int count)
    {
        lock (_neighbors)
        {
            if (_neighbors.TryGetValue((word, count), out int[]? cached))
            {
                return cached;
            }
        }

        int k = Math.Min(count, _size - 1);
        var distances = new double[_size];
        long offset = (long)word * _dim;
        for (int v = 0; v < _size; v++)
        {
            double sum = 0;
            long row = (long)v * _dim;
            for (int j = 0; j < _dim; j++)
            {
                double d = (double)_vocabulary[row + j] - _vocabulary[offset + j];
                sum += d * d;
            }

            distances[v] = sum;
        }

        distances[word] = double.PositiveInfinity;
        var heap = new PriorityQueue<int, (double, int)>(Comparer<(double, int)>.Create((a, b) =>
        {
            int c = b.Item1.CompareTo(a.Item1);
            return c != 0 ? c : b.Item2.CompareTo(a.Item2);
        }));
        for (int v = 0; v < _size; v++)
        {
            if (v == word)
            {
                continue;
            }

            if (heap.Count < k)
            {
                heap.Enqueue(v, (distances[v], v));
            }
            else if (heap.TryPeek(out int top, out var worst) && (distances[v] < worst.Item1 || (distances[v] == worst.Item1 && v < top)))
            {
                heap.DequeueEnqueue(v, (distances[v], v));
            }
        }

        int[] result = new int[heap.Count];
        for (int i = result.Length - 1; i >= 0; i--)
        {
            result[i] = heap.Dequeue();
        }

        lock (_neighbors)
        {
            _neighbors[(word, count)] = result;
        }

        return result;
    }

    private static double Distance(double[] a, double[] b)
    {
        double sum = 0;
        for (int j = 0; j < a.Length; j++)
        {
            double d = a[j] - b[j];
            sum += d * d;
        }

        return Math.Sqrt(sum);
    }
}
