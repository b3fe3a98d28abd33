import os; os.environ["KERAS_BACKEND"]="torch"
import numpy as np, keras, torch
import torch.nn.functional as F
from deepgrad.ops import image as im
rng=np.random.default_rng(1)
x = rng.integers(0, 256, (6,7,2)).astype("uint8")
for size in [(3,4),(9,11)]:
  k=keras.ops.convert_to_numpy(keras.ops.image.resize(x,size))
  d=im.resize(x,size).data
  f=im.resize(x.astype("float32"),size).data
  t=F.interpolate(torch.tensor(x.astype("float32")).permute(2,0,1)[None],size=size,mode="bilinear",align_corners=False)[0].permute(1,2,0).numpy()
  idx=np.argwhere(k!=d)
  for i in idx: print(size, i, k[tuple(i)], d[tuple(i)], f[tuple(i)], t[tuple(i)])
