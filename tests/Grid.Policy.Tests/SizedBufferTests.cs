using Grid.Policy.Checkpoints;

namespace Grid.Policy.Tests;

public sealed class SizedBufferTests
{
    [Fact]
    public void Each_write_returns_exactly_its_own_bytes_whether_it_is_the_size_of_the_last_one_or_not()
    {
        var buffer = new SizedBuffer();
        byte[] Fill(int length, byte value) => buffer.Write(s => s.Write(Enumerable.Repeat(value, length).ToArray()));

        var first = Fill(1000, 1);
        var same = Fill(1000, 2);   // the size of the last: handed over without a copy
        var longer = Fill(1500, 3);
        var shorter = Fill(10, 4);

        Assert.Equal(Enumerable.Repeat((byte)1, 1000), first); // not overwritten by the writes after it
        Assert.Equal(Enumerable.Repeat((byte)2, 1000), same);
        Assert.Equal(Enumerable.Repeat((byte)3, 1500), longer);
        Assert.Equal(Enumerable.Repeat((byte)4, 10), shorter);
        Assert.NotSame(first, same);
    }
}
