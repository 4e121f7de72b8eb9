namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// The stream of NumPy's legacy global generator (<c>np.random.seed(n)</c>, a 32-bit Mersenne Twister MT19937) for
/// the few draws the reference stack makes: <c>np.random.uniform(0, 1, n)</c> (53-bit doubles from two 32-bit words)
/// and <c>np.random.choice(k, n)</c> (masked rejection sampling of 32-bit words; nothing drawn when k == 1).
/// Reimplemented from the published algorithms so that seeded runs reproduce Python's draws exactly.
/// </summary>
internal sealed class NumpyRandomState
{
    private const int N = 624;
    private const int M = 397;
    private readonly uint[] _state = new uint[N];
    private int _position;

    /// <summary>Seeds as <c>np.random.seed(seed)</c> with an integer in [0, 2^32).</summary>
    public NumpyRandomState(uint seed)
    {
        _state[0] = seed;
        for (int i = 1; i < N; i++)
        {
            uint previous = _state[i - 1];
            _state[i] = unchecked((1812433253u * (previous ^ (previous >> 30))) + (uint)i);
        }

        _position = N;
    }

    /// <summary>The next 32-bit word of the stream.</summary>
    public uint NextUInt32()
    {
        if (_position >= N)
        {
            Twist();
        }

        uint y = _state[_position++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        y ^= y >> 18;
        return y;
    }

    /// <summary>A double in [0, 1) with 53 random bits (<c>random_sample</c>).</summary>
    public double NextDouble()
    {
        uint a = NextUInt32() >> 5, b = NextUInt32() >> 6;
        return ((a * 67108864.0) + b) / 9007199254740992.0;
    }

    /// <summary><c>np.random.uniform(low, high, count)</c>.</summary>
    public double[] Uniform(double low, double high, int count)
    {
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = low + ((high - low) * NextDouble());
        }

        return values;
    }

    /// <summary><c>np.random.choice(populationSize, count)</c> (with replacement, uniform), i.e.
    /// <c>randint(0, populationSize, count)</c>.</summary>
    public int[] Choice(int populationSize, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(populationSize, 1);
        var values = new int[count];
        uint range = (uint)(populationSize - 1);
        if (range == 0)
        {
            return values;
        }

        uint mask = range;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        for (int i = 0; i < count; i++)
        {
            uint v;
            do
            {
                v = NextUInt32() & mask;
            }
            while (v > range);
            values[i] = (int)v;
        }

        return values;
    }

    private void Twist()
    {
        for (int i = 0; i < N; i++)
        {
            uint y = (_state[i] & 0x80000000u) | (_state[(i + 1) % N] & 0x7fffffffu);
            uint next = _state[(i + M) % N] ^ (y >> 1);
            if ((y & 1) != 0)
            {
                next ^= 0x9908b0dfu;
            }

            _state[i] = next;
        }

        _position = 0;
    }
}
