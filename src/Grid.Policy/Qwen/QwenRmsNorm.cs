using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Grid.Policy.Qwen;

/// <summary>Qwen2's RMSNorm: weight * x / sqrt(mean(x^2) + eps), no bias (the key is "{name}.weight").</summary>
public sealed class QwenRmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _eps;

    public QwenRmsNorm(int size, double eps) : base(nameof(QwenRmsNorm))
    {
        weight = nn.Parameter(ones(size));
        _eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => weight * (x * (x.pow(2).mean([-1], keepdim: true) + _eps).rsqrt());
}
