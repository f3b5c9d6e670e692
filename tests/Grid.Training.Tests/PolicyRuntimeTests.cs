using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Training.Tests;

public sealed class PolicyRuntimeTests
{
    [Fact]
    public void A_learner_uses_gpu_0_only_on_a_silo_that_declares_gpus_and_has_cuda()
    {
        var onGpuSilo = PolicyRuntime.LearnerDevice(declaredGpus: 2);
        var onCpuSilo = PolicyRuntime.LearnerDevice(declaredGpus: 0);

        Assert.Equal(cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, onGpuSilo.type);
        Assert.Equal(DeviceType.CPU, onCpuSilo.type);
    }
}
