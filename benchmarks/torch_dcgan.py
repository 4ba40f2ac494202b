"""A plain PyTorch DCGAN, the reference `train_speed.py` times the project against.

Written in the style of the PyTorch examples' DCGAN (github.com/pytorch/examples, dcgan/main.py):
two nn.Modules, BCEWithLogitsLoss, one Adam per network, the discriminator updated on real and
detached fake images, then the generator against the updated discriminator. It has the
architecture, batch size and Adam settings of this project's `dcgan` variant (Keras' "same"
padding becomes symmetric padding with output_padding, which gives the same shapes and the
same work). The uint8 dataset is kept on the device and scaled there, as the project does, so
both sides time the model, not a DataLoader. Mixed precision is autocast (bfloat16 where the
device has it), fused Adam and cuDNN autotuning on a GPU; `compile=True` compiles both networks
with torch.compile.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from fashiongan.spec import get_variant


class Generator(nn.Module):
    def __init__(self, latent_dim: int):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(latent_dim, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256),
                                     nn.LeakyReLU(0.3))  # fmt: skip
        self.main = nn.Sequential(
            nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False),
            nn.BatchNorm2d(128),
            nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1, bias=False),
            nn.Tanh(),
        )

    def forward(self, noise):
        return self.main(self.project(noise).view(-1, 256, 7, 7))


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, 64, 5, stride=2, padding=2),
            nn.LeakyReLU(0.3),
            nn.Dropout(0.3),
            nn.Conv2d(64, 128, 5, stride=2, padding=2),
            nn.LeakyReLU(0.3),
            nn.Dropout(0.3),
            nn.Flatten(),
            nn.Linear(128 * 7 * 7, 1),
        )

    def forward(self, images):
        return self.main(images)


def images_per_second(images_uint8, batch_size: int, steps: int, warmup: int, compile: bool = False) -> float:
    """Train the reference DCGAN on `images_uint8` (N×28×28) and time `steps` steps after `warmup`."""
    variant = get_variant("dcgan")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bfloat16 = device.type == "cpu" or torch.cuda.is_bf16_supported()
    autocast_dtype = torch.bfloat16 if bfloat16 else torch.float16
    generator, discriminator = Generator(variant.latent_dim).to(device), Discriminator().to(device)
    if compile:
        generator, discriminator = torch.compile(generator), torch.compile(discriminator)
    criterion = nn.BCEWithLogitsLoss()
    betas = (variant.beta_1, 0.999)
    fused = device.type == "cuda"  # PyTorch's fastest Adam on a GPU
    optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=variant.d_learning_rate, betas=betas, fused=fused)
    optimizer_g = torch.optim.Adam(generator.parameters(), lr=variant.g_learning_rate, betas=betas, fused=fused)
    torch.backends.cudnn.benchmark = True
    data = torch.as_tensor(images_uint8, device=device)
    real_label = torch.ones(batch_size, 1, device=device)
    fake_label = torch.zeros(batch_size, 1, device=device)

    def train_step(indices):
        real = data[indices].unsqueeze(1).float() / 127.5 - 1.0
        noise = torch.randn(batch_size, variant.latent_dim, device=device)
        with torch.autocast(device.type, dtype=autocast_dtype):
            fake = generator(noise)
            errD = criterion(discriminator(real), real_label) + criterion(discriminator(fake.detach()), fake_label)
        optimizer_d.zero_grad(set_to_none=True)
        errD.backward()
        optimizer_d.step()
        with torch.autocast(device.type, dtype=autocast_dtype):
            errG = criterion(discriminator(fake), real_label)
        optimizer_g.zero_grad(set_to_none=True)
        errG.backward()
        optimizer_g.step()
        return errG

    order = torch.randperm(len(data), device=device)

    def batch(i: int):
        start = (i * batch_size) % (len(data) - batch_size)
        return order[start : start + batch_size]

    for i in range(warmup):
        train_step(batch(i))
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for i in range(steps):
        loss = train_step(batch(warmup + i))
    float(loss)  # waits for the last step
    return steps * batch_size / (time.perf_counter() - started)
