using InseqBridge.Data;

namespace InseqBridge.Tests.Data;

public class NdArrayTests
{
    [Fact]
    public void Shape_mismatch_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => new NdArray(new float[5], 2, 3));
    }

    [Fact]
    public void Indexing_is_row_major()
    {
        var a = new NdArray([0, 1, 2, 3, 4, 5], 2, 3);
        Assert.Equal(5f, a[1, 2]);
        Assert.Equal(3f, a[1, 0]);
    }
}
