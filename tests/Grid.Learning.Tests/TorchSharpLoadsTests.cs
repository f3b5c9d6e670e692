using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Learning.Tests;

public sealed class TorchSharpLoadsTests
{
    [Fact]
    public void Native_library_loads_and_multiplies_matrices()
    {
        using var a = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        using var b = eye(2) * 2;
        using var product = matmul(a, b);

        Assert.Equal(new float[] { 2, 4, 6, 8 }, product.data<float>().ToArray());
    }

    [Fact]
    public void Autograd_computes_the_gradient_of_a_square()
    {
        using var x = tensor(3.0, requires_grad: true);
        using var y = x * x;
        y.backward();

        Assert.Equal(6.0, x.grad!.item<double>(), 12);
    }
}
