namespace Grid.Learning.Tests.Reference;

/// <summary>Element-wise comparison to a tolerance whose failure names the element.</summary>
public static class Close
{
    public const double Tolerance = 1e-6;

    public static void Equal(double expected, double actual, string what, double tolerance = Tolerance)
    {
        if (!(Math.Abs(expected - actual) <= tolerance))
        {
            Assert.Fail($"{what}: expected {expected:R}, got {actual:R} (tolerance {tolerance}).");
        }
    }

    public static void Equal(double[] expected, double[] actual, string what, double tolerance = Tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Equal(expected[i], actual[i], $"{what}[{i}]", tolerance);
        }
    }

    public static void Equal(double[][] expected, double[] actualFlat, string what, double tolerance = Tolerance)
    {
        var flat = expected.SelectMany(row => row).ToArray();
        Assert.Equal(flat.Length, actualFlat.Length);
        int columns = expected[0].Length;
        for (int i = 0; i < flat.Length; i++)
        {
            Equal(flat[i], actualFlat[i], $"{what}[{i / columns}, {i % columns}]", tolerance);
        }
    }
}
